import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. One UPDATE, guarded by `status = 'dead'`: a row that a
 * concurrent retry (CLI and admin page at once) already put back is not
 * touched twice, and a row that is pending or leased is never reset under a
 * worker. Attempts restart at 0 so the retry schedule starts over; the
 * attempt log keeps the history.
 */

/**
 * Puts dead deliveries back in the queue, due now, with a fresh retry
 * schedule (their attempt history stays). By ids, or every dead one
 * (optionally of one connector). Returns how many were requeued.
 */
export async function retryDead(
  db: Kysely<Tables>,
  target: { ids: readonly number[] } | { allDead: true; connector?: string | undefined },
  now: number,
): Promise<number> {
  let query = db.updateTable('deliveries').set(requeued(now)).where('status', '=', 'dead');
  if ('ids' in target) {
    if (target.ids.length === 0) return 0;
    query = query.where('id', 'in', [...target.ids]);
  } else if (target.connector) {
    query = query.where('connector', '=', target.connector);
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The same for every dead delivery of one event, returning their ids: what a
 * correction of the event does, inside its transaction (record-correction.ts).
 *
 * @example
 * await retryDeadOfEvent(trx, 'ev_01JDQ…', Date.now()) // → [41, 42]
 */
export async function retryDeadOfEvent(db: Kysely<Tables>, eventId: string, now: number): Promise<number[]> {
  const rows = await db
    .updateTable('deliveries')
    .set(requeued(now))
    .where('event_id', '=', eventId)
    .where('status', '=', 'dead')
    .returning('id')
    .execute();
  return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
}

function requeued(now: number) {
  return { status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now, last_error: null } as const;
}
