import { resolve } from 'node:path';
import type SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { openPool, type PostgresSettings } from './postgres/open-pool.ts';
import { type Durability, openConnection, type SqliteSettings } from './sqlite/open-connection.ts';
import type { Tables } from './tables.ts';

export type { Durability };

/** An open store: the query builder plus what differs between dialects. */
export interface Database {
  db: Kysely<Tables>;
  dialect: 'sqlite' | 'postgres';
  /** The raw SQLite handle, for the few hot paths written against it directly. */
  sqlite?: SQLite.Database;
  /** How to open more connections to the same SQLite file (e.g. from a writer thread). */
  sqliteSettings?: SqliteSettings;
  /** How to open a dedicated PostgreSQL connection (e.g. for LISTEN). */
  postgresSettings?: PostgresSettings;
  /** Runs `cleanup` when the database is closed, before the connection is. */
  onClose(cleanup: () => Promise<void>): void;
  /** Cheap round trip for `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

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

function openSqlite(settings: SqliteSettings): Database {
  const sqlite = openConnection(settings);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const cleanups: (() => Promise<void>)[] = [];
  return {
    db,
    dialect: 'sqlite',
    sqlite,
    sqliteSettings: settings,
    onClose: (cleanup) => cleanups.push(cleanup),
    async ping() {
      sqlite.prepare('select 1').get();
    },
    async close() {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      await db.destroy();
    },
  };
}

/** `postgres://…`: a kysely pool; commits are durable per PostgreSQL's own settings (synchronous_commit). */
function openPostgres(settings: PostgresSettings): Database {
  const { pool, db } = openPool(settings);
  const cleanups: (() => Promise<void>)[] = [];
  return {
    db,
    dialect: 'postgres',
    postgresSettings: settings,
    onClose: (cleanup) => cleanups.push(cleanup),
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      await db.destroy();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs more
 * than running most of ours. Statements are reused by their SQL text (kysely
 * runs them synchronously to completion, so one is never in use twice).
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
      statement = sqlite.prepare(source);
      cache.set(source, statement);
    }
    return statement;
  };
  return new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property === 'prepare') return prepare;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
