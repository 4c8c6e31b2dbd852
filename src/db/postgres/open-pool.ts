import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Tables } from '../tables.ts';

/*
 * Design note. Every time column is `bigint` (Unix milliseconds) and every id
 * a `bigserial`; node-postgres returns int8 as a string (it may not fit a
 * double). Our values are milliseconds since 1970 and row counts, far below
 * 2^53, so int8 is parsed to a number once, here, for the whole process —
 * the same numbers SQLite returns. count(*) is int8 too and benefits alike.
 */
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PostgresSettings {
  /** The `postgres://…` URL, as configured (may carry `?options=-c search_path=…`). */
  connectionString: string;
  /** Connections in the pool: ingest batches, claims and finishes share them. */
  max: number;
  /** `normal`: commits do not wait for PostgreSQL's WAL flush (synchronous_commit = off). */
  durability?: 'full' | 'normal';
}

export function openPool(settings: PostgresSettings): { pool: pg.Pool; db: Kysely<Tables> } {
  const pool = new pg.Pool({ connectionString: settings.connectionString, max: settings.max });
  // An idle client that loses its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query opens a new connection.
  pool.on('error', () => {});
  // Like SQLite's `normal`: a PostgreSQL crash (not ours) may lose the last
  // few hundred milliseconds of commits; nothing is ever half-written.
  if (settings.durability === 'normal')
    pool.on('connect', (client) => void client.query('set synchronous_commit = off').catch(() => {}));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return { pool, db };
}

/** A dedicated client outside the pool (LISTEN needs one connection for as long as it listens). */
export function newClient(settings: PostgresSettings): pg.Client {
  return new pg.Client({ connectionString: settings.connectionString });
}
