import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. A lease says "this worker is on it; nobody else may start it
 * before lease_expires_at". A delivery can take longer than the lease (a CRM
 * that answers in 20 s, a batch of lookups after a restart, a loaded machine),
 * and an expired lease is claimable: another worker, or this one, would start
 * the same delivery while the first attempt still runs, and both would write
 * to the CRM. So a worker extends the leases of what it is performing every
 * third of the lease, and the lease only runs out when the worker has stopped
 * renewing — it died, or its event loop stalled for a whole lease.
 *
 * One UPDATE for all of a worker's in-flight rows, guarded like finishing is:
 * only rows still leased to this owner are extended. The ids it returns are
 * the leases still held; an id missing from them was taken over (after a
 * stall) and its late outcome will not overwrite the new owner's.
 */
export async function renewLeases(
  db: Kysely<Tables>,
  options: { owner: string; ids: readonly number[]; now: number; leaseMs: number },
): Promise<Set<number>> {
  if (options.ids.length === 0) return new Set();
  const rows = await db
    .updateTable('deliveries')
    .set({ lease_expires_at: options.now + options.leaseMs })
    .where('id', 'in', options.ids)
    .where('status', '=', 'leased')
    .where('lease_owner', '=', options.owner)
    .returning('id')
    .execute();
  return new Set(rows.map((row) => Number(row.id)));
}
