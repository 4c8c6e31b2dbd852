import type SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { sqliteEventInserter } from '../../outbox/store-events.ts';
import { closeHooks, type Database } from '../database.ts';
import { GroupCommit } from '../group-commit.ts';
import type { Tables } from '../tables.ts';
import { openConnection, type SqliteSettings } from './open-connection.ts';
import { DELIVERY, takingTurns, WriteTurns } from './write-turns.ts';
import { SqliteWriterThread } from './writer-client.ts';

/**
 * A SQLite file (or `:memory:`) as a {@link Database}. `takesTurnsWith`: the
 * `writeTurns` of the thread that opened the file first — this connection
 * then writes as `serve`'s delivery thread, taking turns with its writer
 * thread (write-turns.ts).
 */
export function openSqlite(
  settings: SqliteSettings,
  options: { takesTurnsWith?: SharedArrayBuffer } = {},
): Database {
  const sqlite = openConnection(settings);
  const joined = options.takesTurnsWith ? new WriteTurns(options.takesTurnsWith) : undefined;
  // The turns this file's writer thread takes, for a delivery thread to join.
  const own = joined || settings.file === ':memory:' ? undefined : new WriteTurns();
  const statements = withStatementCache(
    sqlite,
    joined
      ? (statement, source) =>
          takingTurns(sqlite, statement, source, joined, DELIVERY, settings.busyTimeoutMs)
      : (statement) => statement,
  );
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: statements }) });
  const hooks = closeHooks();
  const database: Database = {
    db,
    kind: 'sqlite',
    adapter: {
      claimsTakeTurns: false,
      jsonText: (column, path) =>
        sql<string | null>`json_extract(${column}, ${sql.lit(`$.${path.join('.')}`)})`,
      // julianday, not unixepoch('subsec'): the latter needs SQLite 3.42.
      clockMs: () => sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`,
    },
    eventWriter() {
      if (settings.file === ':memory:') {
        // One connection is the whole database: write in this thread.
        const insert = sqliteEventInserter(sqlite);
        return new GroupCommit(async (events) => insert(events));
      }
      // A writer thread of its own, so the fsync never blocks HTTP.
      const thread = new SqliteWriterThread(settings, own?.buffer);
      hooks.onClose(() => thread.close());
      return new GroupCommit((events) => thread.write(events), { maxInFlight: 16 });
    },
    sqlite,
    ...(own ? { writeTurns: own.buffer } : {}),
    onClose: hooks.onClose,
    async ping() {
      sqlite.prepare('select 1').get();
    },
    async close() {
      await hooks.run();
      await db.destroy();
    },
  };
  return database;
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs more
 * than running most of ours. Statements are reused by their SQL text (kysely
 * runs them synchronously to completion, so one is never in use twice).
 */
function withStatementCache(
  sqlite: SQLite.Database,
  wrap: (statement: SQLite.Statement, source: string) => SQLite.Statement,
): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
      statement = wrap(sqlite.prepare(source), source);
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
