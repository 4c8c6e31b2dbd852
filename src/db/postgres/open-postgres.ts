import { sql } from 'kysely';
import { storeEvents } from '../../outbox/store-events.ts';
import { closeHooks, type Database } from '../database.ts';
import { GroupCommit } from '../group-commit.ts';
import { openPool, type PostgresSettings } from './open-pool.ts';
import { listenForOutbox, notifyOutbox } from './outbox-channel.ts';

/** `postgres://…` as a {@link Database}: a kysely pool; commits are durable per PostgreSQL's own settings. */
export function openPostgres(settings: PostgresSettings): Database {
  const { pool, db } = openPool(settings);
  const hooks = closeHooks();
  return {
    db,
    kind: 'postgres',
    adapter: {
      claimsTakeTurns: true,
      jsonText: (column, path) =>
        sql<string | null>`cast(${column} as jsonb) #>> ${sql.lit(`{${path.join(',')}}`)}`,
      clockMs: () => sql<number>`cast(extract(epoch from clock_timestamp()) * 1000 as bigint)`,
    },
    eventWriter() {
      // A few batches in flight, each on its own pooled connection: PostgreSQL
      // commits them in parallel (its WAL flush groups concurrent commits too).
      // The NOTIFY wakes workers in every process once a batch commits.
      return new GroupCommit((events) => storeEvents(db, events, { onDeliveries: notifyOutbox }), {
        maxInFlight: 4,
      });
    },
    listenForWork: (onWork, logger) => listenForOutbox(settings, onWork, logger),
    onClose: hooks.onClose,
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await hooks.run();
      await db.destroy();
    },
  };
}
