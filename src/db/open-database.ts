import { resolve } from 'node:path';
import type { Database, Durability } from './database.ts';

export interface OpenOptions {
  durability?: Durability;
  busyTimeoutMs?: number;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /**
   * SQLite: the `writeTurns` of this process's first connection to the file,
   * for another thread that writes it (`serve`'s delivery thread): the two
   * take turns for the write lock instead of sleeping in SQLite's busy handler.
   */
  takesTurnsWith?: SharedArrayBuffer | undefined;
}

/**
 * Opens `sqlite:PATH` (relative paths from the working directory) with WAL,
 * fsync per commit unless `durability: normal`, or `postgres://…` with a
 * connection pool (see docs/scaling.md). Only the chosen dialect's driver is
 * loaded, so a SQLite install never loads pg and the reverse.
 *
 * @example
 * const store = await openDatabase('sqlite:./data/leadrelay.db');
 * await migrateToLatest(store.db);
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    const { openSqlite } = await import('./sqlite/open-sqlite.ts');
    return openSqlite(
      {
        file: path === ':memory:' ? path : resolve(path),
        durability: options.durability ?? 'full',
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      },
      options.takesTurnsWith ? { takesTurnsWith: options.takesTurnsWith } : {},
    );
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgres } = await import('./postgres/open-postgres.ts');
    return openPostgres({
      connectionString: url,
      max: options.poolSize ?? 10,
      durability: options.durability ?? 'full',
    });
  }
  throw new Error(`database.url must start with sqlite: or postgres:// (got "${url.split(':')[0]}:…")`);
}
