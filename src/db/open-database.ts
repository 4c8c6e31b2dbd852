import { resolve } from 'node:path';
import type { Database, Durability } from './database.ts';
import { openPostgres } from './postgres/open-postgres.ts';
import { openSqlite } from './sqlite/open-sqlite.ts';

export interface OpenOptions {
  durability?: Durability;
  busyTimeoutMs?: number;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
}

/**
 * Opens `sqlite:PATH` (relative paths from the working directory) with WAL,
 * fsync per commit unless `durability: normal`, or `postgres://…` with a
 * connection pool (see docs/scaling.md).
 *
 * @example
 * const store = openDatabase('sqlite:./data/leadrelay.db');
 * await migrateToLatest(store.db);
 */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    return openSqlite({
      file: path === ':memory:' ? path : resolve(path),
      durability: options.durability ?? 'full',
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return openPostgres({
      connectionString: url,
      max: options.poolSize ?? 10,
      durability: options.durability ?? 'full',
    });
  }
  throw new Error(`database.url must start with sqlite: or postgres:// (got "${url.split(':')[0]}:…")`);
}
