import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. A lease ends when its worker stops renewing it — after a whole
 * `delivery.lease` (60 s by default), which is how long the deliveries of a
 * SIGKILLed or crashed process used to wait. But every worker also writes a
 * heartbeat (`workers.last_seen`, worker-registry.ts) every 2 s, so a sibling
 * or a restarted process can tell much sooner that an owner is gone: no
 * heartbeat for `unseenForMs`. This statement ends the leases of such owners
 * now (sets them to just before `now`), and the normal claim takes them over
 * as it takes any expired lease — with the attempt counted and
 * `earlierAttemptsEndedBy` set, so connectors check before redoing.
 *
 * Heartbeats are compared on the database's clock (`clockMs`), both when
 * written and here, so hosts whose clocks disagree do not see each other as
 * dead. The caller never ends its own leases (it is alive, whatever its row
 * says), and an owner whose beat is merely late keeps its leases until it has
 * missed several in a row: 2 s beats, dead after 8 s. A worker whose event loop
 * stalls for that long can lose its leases while its call is still running —
 * the same trade as a lease shorter than a stall, accepted for recovery in
 * seconds instead of a minute; its late outcome is then not recorded (the
 * finish is guarded by owner).
 *
 * Dead means *seen, then silent*: an owner with no heartbeat row at all (a
 * worker whose first beat failed, or one from a version that wrote none)
 * keeps its lease until it runs out, as before heartbeats — an unknown owner
 * is never assumed dead. A worker unseen for an hour loses its row
 * (worker-registry.ts); its leases ran out long before.
 *
 * Only leases not yet expired are touched: expired ones are claimable
 * already. `status` is a literal so SQLite can use the partial index over
 * leased rows (see claim-deliveries.ts).
 */
export async function expireOrphanedLeases(
  db: Kysely<Tables>,
  options: { self: string; now: number; unseenForMs: number; clockMs: RawBuilder<number> },
): Promise<number> {
  const dead = db
    .selectFrom('workers')
    .select('id')
    .where(sql<boolean>`last_seen < ${options.clockMs} - ${options.unseenForMs}`);
  const result = await db
    .updateTable('deliveries')
    .set({ lease_expires_at: options.now - 1 })
    .where('status', '=', sql.lit('leased'))
    .where('lease_expires_at', '>=', options.now)
    .where('lease_owner', '<>', options.self)
    .where('lease_owner', 'in', dead)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Ends every lease of one owner now, in place: what the main thread does when
 * `serve`'s delivery thread died or had to be ended. Its calls may have
 * written before it went, so the rows are not put back as plain retries
 * (releaseLeases, for a graceful stop): an ended lease is claimed as a
 * takeover, with `earlierAttemptsEndedBy` set to the claim's time, and the
 * connectors check before redoing — HubSpot waits out its search lag.
 *
 * @example
 * await expireLeasesOf(store.db, owner, Date.now());
 */
export async function expireLeasesOf(db: Kysely<Tables>, owner: string, now: number): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({ lease_expires_at: now - 1 })
    .where('status', '=', sql.lit('leased'))
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
