import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. A replay adds rows; it never resets old ones, so the record of
 * what happened stays and a replay racing a worker cannot clobber a lease.
 * The new rows carry the event's ordering key, so a replay queues behind any
 * open delivery of the same key like a new event would.
 */

/**
 * Delivers an event again: one new pending delivery per connector given
 * (its routes under the current configuration). Earlier deliveries stay as
 * they were, for the record. Returns the new delivery ids.
 */
export async function addReplayDeliveries(
  db: Kysely<Tables>,
  event: { id: string; orderingKey: string | null },
  connectors: readonly string[],
  now: number,
): Promise<number[]> {
  if (connectors.length === 0) return [];
  const rows = await db
    .insertInto('deliveries')
    .values(
      connectors.map((connector) => ({
        event_id: event.id,
        connector,
        ordering_key: event.orderingKey,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => Number(row.id));
}
