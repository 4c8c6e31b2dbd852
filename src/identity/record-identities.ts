import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/** What one delivery resolved: these identifiers now mean this record in this connector. */
export interface ResolvedIdentity {
  connector: string;
  identifiers: readonly string[];
  record: string;
  eventId: string;
}

/*
 * Design note. Recorded in the transaction that marks the delivery delivered
 * (finish-delivery.ts), so a delivery is never "delivered" without what it
 * learnt. The reverse — the CRM write happened and the process died before
 * this commit — is a crash window like any other: the retry finds the record
 * through the destination (search by email, phone; the note marker) and
 * records it then (docs/reliability.md). An upsert, not an insert: a later
 * event may move an identifier to another record (a merge in the CRM, an
 * email that turned out to belong to someone else), and the newest answer
 * wins. `ON CONFLICT … DO UPDATE` is the same statement on both dialects.
 */
export async function recordIdentities(
  db: Kysely<Tables>,
  resolved: ResolvedIdentity,
  now: number,
): Promise<void> {
  if (resolved.identifiers.length === 0) return;
  await db
    .insertInto('identities')
    .values(
      resolved.identifiers.map((identifier) => ({
        connector: resolved.connector,
        identifier,
        record: resolved.record,
        event_id: resolved.eventId,
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['connector', 'identifier']).doUpdateSet((eb) => ({
        record: eb.ref('excluded.record'),
        event_id: eb.ref('excluded.event_id'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

/**
 * A record the destination no longer has (deleted, or merged into another):
 * every identifier that pointed at it now points at `to`, or is forgotten
 * when there is no survivor, so the next event creates the record again once
 * instead of failing against a dead id for ever.
 */
export async function replaceRecord(
  db: Kysely<Tables>,
  connector: string,
  from: string,
  to: string | undefined,
  now: number,
): Promise<void> {
  const query = db.updateTable('identities');
  if (to === undefined) {
    await db.deleteFrom('identities').where('connector', '=', connector).where('record', '=', from).execute();
    return;
  }
  await query
    .set({ record: to, updated_at: now })
    .where('connector', '=', connector)
    .where('record', '=', from)
    .execute();
}
