import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. Retention deletes in small batches (each its own short
 * transaction) so that SQLite's single write lock is never held long enough
 * to delay ingest: a group commit waits at most one batch. Delivered rows go
 * after `delivered` age (their attempts with them, by foreign-key cascade);
 * dead rows only when `deadMs` is given (`delivery.retention.dead`), counted
 * from when they died (`updated_at`; a retry makes a row pending again);
 * pending and leased rows never. Events go after `events` age once none of
 * their deliveries remain, which also ends their idempotency window — and
 * removes the contact's data, which lives in the event's payload.
 */

/** Ages (ms) past which rows are deleted; see the design note. */
export interface RetentionOptions {
  now: number;
  deliveredMs: number;
  eventsMs: number;
  /** Dead rows older than this (since they died) are deleted; undefined keeps them. */
  deadMs?: number | undefined;
  batch?: number;
}

/**
 * One batch of each kind of deletion; {@link prune} repeats it until nothing is left.
 *
 * @example
 * const round = await pruneOnce(db, { now: Date.now(), deliveredMs: 30 * DAY, eventsMs: 90 * DAY, deadMs: 60 * DAY });
 */
export async function pruneOnce(
  db: Kysely<Tables>,
  options: RetentionOptions,
): Promise<{ deliveries: number; events: number }> {
  const batch = options.batch ?? 500;
  const deleteFinished = async (status: 'delivered' | 'dead', ageMs: number) => {
    const deleted = await db
      .deleteFrom('deliveries')
      .where(
        'id',
        'in',
        db
          .selectFrom('deliveries')
          .select('id')
          // A literal, so the partial index for that status applies (deliveries_delivered, deliveries_dead).
          .where('status', '=', sql.lit(status))
          .where('updated_at', '<', options.now - ageMs)
          .limit(batch),
      )
      .executeTakeFirst();
    return Number(deleted.numDeletedRows);
  };
  const deliveries =
    (await deleteFinished('delivered', options.deliveredMs)) +
    (options.deadMs === undefined ? 0 : await deleteFinished('dead', options.deadMs));
  const events = await db
    .deleteFrom('events')
    .where(
      'id',
      'in',
      db
        .selectFrom('events as e')
        .select('e.id')
        .where('e.received_at', '<', options.now - options.eventsMs)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('deliveries as d')
                .select(sql.lit(1).as('one'))
                .whereRef('d.event_id', '=', 'e.id'),
            ),
          ),
        )
        .limit(batch),
    )
    .executeTakeFirst();
  return { deliveries, events: Number(events.numDeletedRows) };
}

/**
 * Prunes until nothing old is left, yielding between batches. `deliveries`
 * counts delivered and dead rows deleted.
 *
 * @example
 * const { deliveries, events } = await prune(store.db, { now: Date.now(), deliveredMs, eventsMs, deadMs });
 */
export async function prune(
  db: Kysely<Tables>,
  options: RetentionOptions,
): Promise<{ deliveries: number; events: number }> {
  const total = { deliveries: 0, events: 0 };
  for (;;) {
    const round = await pruneOnce(db, options);
    total.deliveries += round.deliveries;
    total.events += round.events;
    if (round.deliveries === 0 && round.events === 0) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
