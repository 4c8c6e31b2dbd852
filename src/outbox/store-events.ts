import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/database.ts';
import { GroupCommit } from '../db/group-commit.ts';
import { notifyOutbox } from '../db/postgres/outbox-channel.ts';
import { sqliteEventInserter } from '../db/sqlite/insert-events.ts';
import { SqliteWriterThread } from '../db/sqlite/writer-client.ts';
import type { Tables } from '../db/tables.ts';
import type { EventToStore, StoredEvent } from './event-to-store.ts';

export type { EventToStore, StoredEvent };

/**
 * The fastest way this database has to run {@link storeEvents}: on a SQLite
 * file, a writer thread (so the fsync never blocks HTTP); on SQLite in
 * memory, the same statements in this thread; on PostgreSQL the portable
 * query, a few batches at once, with a NOTIFY for workers in other processes.
 */
export function eventWriterFor(database: Database): GroupCommit<EventToStore, StoredEvent> {
  if (database.sqliteSettings && database.sqliteSettings.file !== ':memory:') {
    const thread = new SqliteWriterThread(database.sqliteSettings);
    database.onClose(() => thread.close());
    return new GroupCommit((events) => thread.write(events), { maxInFlight: 16 });
  }
  if (database.sqlite) {
    const insert = sqliteEventInserter(database.sqlite);
    return new GroupCommit(async (events) => insert(events));
  }
  if (database.dialect === 'postgres') {
    // A few batches in flight, each on its own pooled connection: PostgreSQL
    // commits them in parallel (its WAL flush groups concurrent commits too).
    return new GroupCommit((events) => storeEvents(database.db, events, { notify: true }), {
      maxInFlight: 4,
    });
  }
  return new GroupCommit((events) => storeEvents(database.db, events));
}

/**
 * Writes events and their outbox rows in one transaction. An event already
 * received from the same source (same external id) is left as it was and
 * reported as a duplicate: "stored once, however often it is re-sent".
 */
export async function storeEvents(
  db: Kysely<Tables>,
  events: readonly EventToStore[],
  options: { notify?: boolean } = {},
): Promise<StoredEvent[]> {
  return db.transaction().execute(async (trx) => {
    // One multi-row statement per table, not two per event: on a networked
    // database every statement is a round trip.
    const inserted = new Set<string>();
    for (const chunk of chunks(events, 1000)) {
      const rows = await trx
        .insertInto('events')
        .values(
          chunk.map((event) => ({
            id: event.id,
            source: event.source,
            external_id: event.externalId,
            type: event.type,
            status: event.status ?? 'accepted',
            received_at: event.receivedAt,
            occurred_at: event.occurredAt,
            payload: event.payload,
          })),
        )
        // Also a copy earlier in this same batch: DO NOTHING skips the later one.
        .onConflict((conflict) => conflict.columns(['source', 'external_id']).doNothing())
        .returning('id')
        .execute();
      for (const row of rows) inserted.add(row.id);
    }
    // Values in event order, so delivery ids keep the order events arrived in.
    const deliveries = events
      .filter((event) => inserted.has(event.id))
      .flatMap((event) =>
        event.connectors.map((connector) => ({
          event_id: event.id,
          connector,
          ordering_key: event.orderingKey,
          status: 'pending' as const,
          attempts: 0,
          next_attempt_at: event.receivedAt,
          created_at: event.receivedAt,
          updated_at: event.receivedAt,
        })),
      );
    for (const chunk of chunks(deliveries, 5000)) await trx.insertInto('deliveries').values(chunk).execute();

    const results: StoredEvent[] = [];
    for (const event of events) {
      results.push(
        inserted.has(event.id)
          ? { id: event.id, deliveries: event.connectors.length, duplicate: false }
          : await findDuplicate(trx, event),
      );
    }
    // PostgreSQL: wake workers in every process once this commits.
    if (options.notify && deliveries.length > 0) await notifyOutbox(trx);
    return results;
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function findDuplicate(trx: Transaction<Tables>, event: EventToStore): Promise<StoredEvent> {
  const existing = await trx
    .selectFrom('events')
    .leftJoin('deliveries', 'deliveries.event_id', 'events.id')
    .select(['events.id', (eb) => eb.fn.count<number>('deliveries.id').as('deliveries')])
    .where('events.source', '=', event.source)
    .where('events.external_id', '=', event.externalId)
    .groupBy('events.id')
    .executeTakeFirstOrThrow();
  return { id: existing.id, deliveries: Number(existing.deliveries), duplicate: true };
}
