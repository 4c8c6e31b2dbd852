import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. Retention deletes in small batches (each its own short
 * transaction) so that SQLite's single write lock is never held long enough
 * to delay ingest: a group commit waits at most one batch. Delivered rows go
 * after `delivered` age (their attempts with them, by foreign-key cascade);
 * dead and pending rows are never pruned. Events go after `events` age once
 * none of their deliveries remain, which also ends their idempotency window.
 */
export async function pruneOnce(
  db: Kysely<Tables>,
  options: { now: number; deliveredMs: number; eventsMs: number; batch?: number },
): Promise<{ deliveries: number; events: number }> {
  const batch = options.batch ?? 500;
  const deliveries = await db
    .deleteFrom('deliveries')
    .where(
      'id',
      'in',
      db
        .selectFrom('deliveries')
        .select('id')
        .where('status', '=', 'delivered')
        .where('updated_at', '<', options.now - options.deliveredMs)
        .limit(batch),
    )
    .executeTakeFirst();
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
  return { deliveries: Number(deliveries.numDeletedRows), events: Number(events.numDeletedRows) };
}

/** Prunes until nothing old is left, yielding between batches. */
export async function prune(
  db: Kysely<Tables>,
  options: { now: number; deliveredMs: number; eventsMs: number; batch?: number },
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
