import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Tables } from './tables.ts';

export type Durability = 'full' | 'normal';

/** An open store: the query builder plus what differs between dialects. */
export interface Database {
  db: Kysely<Tables>;
  dialect: 'sqlite' | 'postgres';
  /** Cheap round trip for `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  durability?: Durability;
}

/**
 * Opens `sqlite:PATH` (relative paths from the working directory) with WAL,
 * fsync per commit unless `durability: normal`.
 *
 * @example
 * const store = openDatabase('sqlite:./data/leadrelay.db');
 * await migrateToLatest(store.db);
 */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options.durability ?? 'full');
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('PostgreSQL is not supported yet by this version of leadrelay; use sqlite:PATH');
  }
  throw new Error(`database.url must start with sqlite: or postgres:// (got "${url.split(':')[0]}:…")`);
}

function openSqlite(path: string, durability: Durability): Database {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // In WAL mode FULL syncs the log on every commit: a 2xx is on disk. NORMAL
  // syncs at checkpoints only and may lose the last commits on power loss.
  sqlite.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    dialect: 'sqlite',
    async ping() {
      sqlite.prepare('select 1').get();
    },
    async close() {
      await db.destroy();
    },
  };
}
