import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { notBehindAnOpenDelivery, notWaiting, type WaitsFor } from './claim-deliveries.ts';

/*
 * Design note. When the worker should look again if nothing wakes it. Only
 * rows the claim could take count: a pending row queued behind an open
 * delivery of its ordering key, or waiting for a related delivery, may have
 * been due long ago, and counting it would make the worker claim nothing in
 * a tight loop for as long as the earlier delivery keeps retrying. The earlier
 * row's own due time is what matters, and it is found the same way. A row
 * waiting for related deliveries is due at the latest when its wait times out
 * (its created_at + timeout); the awaited delivery finishing wakes the worker
 * sooner. One indexed look-up per connector (`deliveries_due` leads with the
 * connector and the partial index holds pending rows only).
 */

/** The connectors to look at: their names and what each waits for. */
export interface DueConnector {
  name: string;
  waitsFor?: WaitsFor | undefined;
}

/** When the earliest claimable pending delivery of these connectors comes due. */
export async function nextDueAt(
  db: Kysely<Tables>,
  connectors: readonly DueConnector[],
  now: number,
): Promise<number | undefined> {
  let earliest: number | undefined;
  const consider = (at: number) => {
    if (earliest === undefined || at < earliest) earliest = at;
  };
  for (const connector of connectors) {
    const due = await notWaiting(
      notBehindAnOpenDelivery(
        db
          .selectFrom('deliveries as d')
          .select('d.next_attempt_at')
          .where('d.connector', '=', connector.name)
          .where('d.status', '=', sql.lit('pending')),
        connector.name,
      ),
      connector.waitsFor,
      now,
    )
      .orderBy('d.next_attempt_at')
      .limit(1)
      .executeTakeFirst();
    if (due) consider(Number(due.next_attempt_at));
    const waitsFor = connector.waitsFor;
    if (waitsFor && waitsFor.connectors.length > 0) {
      const waiting = await db
        .selectFrom('deliveries as d')
        .select('d.created_at')
        .where('d.connector', '=', connector.name)
        .where('d.status', '=', sql.lit('pending'))
        .where('d.created_at', '>', now - waitsFor.timeoutMs)
        .orderBy('d.created_at')
        .limit(1)
        .executeTakeFirst();
      if (waiting) consider(Number(waiting.created_at) + waitsFor.timeoutMs);
    }
  }
  return earliest;
}
