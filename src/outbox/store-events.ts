import type SQLite from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { choosePerson } from '../identity/person-key.ts';
import type { EventToStore, StoredEvent } from './event-to-store.ts';

export type { EventToStore, StoredEvent };

/*
 * The write of an event and its deliveries, whichever database runs it: the
 * portable query (PostgreSQL) and the same statements prepared once for
 * SQLite's hot path. Which one runs, in which thread, is the database's
 * choice (`Database.eventWriter()` in src/db).
 */

/**
 * Writes events and their outbox rows in one transaction. An event already
 * received from the same source (same external id) is left as it was and
 * reported as a duplicate: "stored once, however often it is re-sent".
 */
export async function storeEvents(
  db: Kysely<Tables>,
  events: readonly EventToStore[],
  options: {
    /** Runs inside the transaction when it wrote deliveries (PostgreSQL: a NOTIFY sent on commit). */
    onDeliveries?: (trx: Transaction<Tables>) => Promise<void>;
  } = {},
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
            raw_payload: event.rawPayload ?? null,
          })),
        )
        // Also a copy earlier in this same batch: DO NOTHING skips the later one.
        .onConflict((conflict) => conflict.columns(['source', 'external_id']).doNothing())
        .returning('id')
        .execute();
      for (const row of rows) inserted.add(row.id);
    }
    const keys = await personKeys(
      trx,
      events.filter((event) => inserted.has(event.id) && event.connectors.length > 0),
    );
    // Values in event order, so delivery ids keep the order events arrived in.
    const deliveries = events
      .filter((event) => inserted.has(event.id))
      .flatMap((event) =>
        event.connectors.map((connector) => ({
          event_id: event.id,
          connector,
          ordering_key: keys.get(event) ?? event.orderingKey,
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
    if (options.onDeliveries && deliveries.length > 0) await options.onDeliveries(trx);
    return results;
  });
}

/*
 * Design note. The person each new event belongs to (src/identity/person-key.ts),
 * for all events of the batch in two statements: one read of every identifier
 * the batch carries, one insert of the links it adds. Events of one batch are
 * chosen in order, each seeing the links the ones before it made. On
 * PostgreSQL two instances writing the first two events of one new person at
 * the same moment may each start a person; ON CONFLICT DO NOTHING keeps the
 * first link, and only those two events' order is then not kept — the next
 * event of that person finds the stored link.
 */
async function personKeys(
  trx: Transaction<Tables>,
  events: readonly EventToStore[],
): Promise<Map<EventToStore, string>> {
  const keys = new Map<EventToStore, string>();
  const all = [...new Set(events.flatMap((event) => event.identifiers ?? []))];
  if (all.length === 0) return keys;
  const known = new Map<string, string>();
  for (const chunk of chunks(all, 1000)) {
    const rows = await trx
      .selectFrom('people')
      .select(['identifier', 'person'])
      .where('identifier', 'in', chunk)
      .execute();
    for (const row of rows) known.set(row.identifier, row.person);
  }
  const links: { identifier: string; person: string }[] = [];
  for (const event of events) {
    const chosen = choosePerson(event.identifiers ?? [], (identifier) => known.get(identifier));
    if (!chosen) continue;
    keys.set(event, chosen.person);
    for (const identifier of chosen.link) {
      known.set(identifier, chosen.person);
      links.push({ identifier, person: chosen.person });
    }
  }
  // In one order everywhere: two PostgreSQL batches linking the same new identifiers in
  // opposite orders would otherwise deadlock, and one of them would fail its whole write.
  links.sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
  for (const chunk of chunks(links, 1000))
    await trx
      .insertInto('people')
      .values(chunk)
      .onConflict((conflict) => conflict.column('identifier').doNothing())
      .execute();
  return keys;
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

/*
 * Design note. This is ingest's hot path on SQLite: one synchronous
 * transaction per group commit with statements prepared once. Going through
 * the query builder here cost about three times as much per event (statement
 * compilation plus a fresh `prepare` per query), which mattered more than the
 * fsync it amortises. BEGIN IMMEDIATE takes the write lock up front, so two
 * processes sharing the file wait on busy_timeout instead of failing on a
 * lock upgrade. The statements are the same as the portable ones in
 * storeEvents above, which PostgreSQL uses; the SQLite writer thread
 * (src/db/sqlite/writer-thread.ts) runs this one.
 */
export function sqliteEventInserter(
  sqlite: SQLite.Database,
): (events: readonly EventToStore[]) => StoredEvent[] {
  const insertEvent = sqlite.prepare(
    `insert into events (id, source, external_id, type, status, received_at, occurred_at, payload, raw_payload)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (source, external_id) do nothing`,
  );
  const insertDelivery = sqlite.prepare(
    `insert into deliveries (event_id, connector, ordering_key, status, attempts, next_attempt_at, created_at, updated_at)
     values (?, ?, ?, 'pending', 0, ?, ?, ?)`,
  );
  const findPerson = sqlite.prepare('select person from people where identifier = ?').pluck();
  const linkPerson = sqlite.prepare(
    'insert into people (identifier, person) values (?, ?) on conflict (identifier) do nothing',
  );
  const personOf = (event: EventToStore): string | null => {
    const chosen = choosePerson(
      event.identifiers ?? [],
      (identifier) => findPerson.get(identifier) as string | undefined,
    );
    if (!chosen) return event.orderingKey;
    for (const identifier of chosen.link) linkPerson.run(identifier, chosen.person);
    return chosen.person;
  };
  const findFirstCopy = sqlite.prepare(
    `select e.id as id, (select count(*) from deliveries d where d.event_id = e.id) as deliveries
     from events e where e.source = ? and e.external_id = ?`,
  );

  const insertAll = sqlite.transaction((events: readonly EventToStore[]): StoredEvent[] =>
    events.map((event) => {
      const { changes } = insertEvent.run(
        event.id,
        event.source,
        event.externalId,
        event.type,
        event.status ?? 'accepted',
        event.receivedAt,
        event.occurredAt,
        event.payload,
        event.rawPayload ?? null,
      );
      if (changes === 0) {
        const first = findFirstCopy.get(event.source, event.externalId) as { id: string; deliveries: number };
        return { id: first.id, deliveries: first.deliveries, duplicate: true };
      }
      const key = event.connectors.length > 0 ? personOf(event) : event.orderingKey;
      for (const connector of event.connectors) {
        insertDelivery.run(event.id, connector, key, event.receivedAt, event.receivedAt, event.receivedAt);
      }
      return { id: event.id, deliveries: event.connectors.length, duplicate: false };
    }),
  );
  return (events) => insertAll.immediate(events);
}
