import type SQLite from 'better-sqlite3';
import type { Expression, Kysely, RawBuilder } from 'kysely';
import type { EventToStore, StoredEvent } from '../outbox/event-to-store.ts';
import type { Logger } from '../util/logger.ts';
import type { GroupCommit } from './group-commit.ts';
import type { Durability } from './sqlite/open-connection.ts';
import type { Tables } from './tables.ts';

export type { Durability };

/**
 * What differs between the databases, asked for by what it is for — never by
 * the database's name (kysely's own style: the dialect answers, the caller
 * does not branch).
 */
export interface DialectAdapter {
  /**
   * True where several processes claim from one outbox at once (PostgreSQL):
   * claims for a connector then take turns under a lock and skip rows that
   * others hold (see src/outbox/claim-deliveries.ts). SQLite's single writer
   * lock already serialises them.
   */
  readonly claimsTakeTurns: boolean;
  /** The text at `path` inside a JSON text column, as an SQL expression (null when absent). */
  jsonText(column: Expression<string>, path: readonly string[]): RawBuilder<string | null>;
  /**
   * The database's own clock, in milliseconds since the epoch: what worker
   * heartbeats are written and compared with, so that processes on hosts
   * whose clocks disagree agree on who is alive.
   */
  clockMs(): RawBuilder<number>;
}

/** An open store: the query builder and what differs between databases, behind one object. */
export interface Database {
  db: Kysely<Tables>;
  /** Which database this is: for messages only; code asks {@link adapter} instead. */
  readonly kind: 'sqlite' | 'postgres';
  adapter: DialectAdapter;
  /**
   * The fastest way this database has to store events with their deliveries
   * (a writer thread on a SQLite file, pooled batches with a NOTIFY on
   * PostgreSQL). Ingest submits to it; the write itself is
   * src/outbox/store-events.ts whichever runs it.
   */
  eventWriter(): GroupCommit<EventToStore, StoredEvent>;
  /**
   * Present where other processes may store deliveries into this database:
   * calls `onWork` when they do. Returns a function that stops listening.
   */
  listenForWork?: (onWork: () => void, logger: Logger) => () => Promise<void>;
  /** The raw SQLite handle, for benchmarks that write rows without the HTTP path. */
  sqlite?: SQLite.Database;
  /**
   * SQLite file: the turns its writer thread takes for the write lock, for
   * another thread of this process that writes the file to take turns with
   * (`openDatabase(url, { takesTurnsWith })`; src/db/sqlite/write-turns.ts).
   */
  writeTurns?: SharedArrayBuffer;
  /** Runs `cleanup` when the database is closed, before the connection is. */
  onClose(cleanup: () => Promise<void>): void;
  /** Cheap round trip for `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Cleanups registered with `onClose`, run in order before the connection closes. */
export function closeHooks(): { onClose(cleanup: () => Promise<void>): void; run(): Promise<void> } {
  const cleanups: (() => Promise<void>)[] = [];
  return {
    onClose: (cleanup) => void cleanups.push(cleanup),
    async run() {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    },
  };
}
