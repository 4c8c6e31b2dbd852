import type { Kysely } from 'kysely';
import type { AttemptOutcome, Tables } from '../db/tables.ts';
import { type ResolvedIdentity, recordIdentities, replaceRecord } from '../identity/record-identities.ts';

export interface AttemptRecord {
  startedAt: number;
  durationMs: number;
  outcome: AttemptOutcome;
  statusCode?: number | undefined;
  error?: string | undefined;
  requestSummary?: string | undefined;
  responseSummary?: string | undefined;
}

export type Finish =
  | { status: 'delivered'; result: Record<string, unknown> | undefined }
  | { status: 'pending'; nextAttemptAt: number; error: string }
  | { status: 'dead'; error: string };

export interface FinishItem {
  id: number;
  finish: Finish;
  /** Undefined for a delivery put back without being tried (it waits for related deliveries). */
  attempt: AttemptRecord | undefined;
  /** Recorded in the timeline, but nothing was sent: the claim's attempt count is given back. */
  uncounted?: boolean;
  /**
   * What the delivery resolved the person to, recorded in the same transaction (the identity
   * map); `replaces`: records the destination no longer has (merged, converted, deleted),
   * whose identifiers all move to `record` first.
   */
  identity?: ResolvedIdentity & { replaces?: readonly string[] };
}

/*
 * Design note. A batch finishes in one transaction: with an fsync per commit,
 * a hundred single-row commits would cost more than the API call they record.
 * Finishing is guarded by the lease: the update only applies if this worker
 * still owns the row. A worker that stalled past its lease may find another
 * worker already took the row over; its late result is then recorded as an
 * attempt (it did happen) but does not overwrite the row's state. Returns,
 * per item, whether the row was updated.
 */
export async function finishDeliveries(
  db: Kysely<Tables>,
  options: { owner: string; now: number; items: readonly FinishItem[] },
): Promise<boolean[]> {
  if (options.items.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const updated: boolean[] = [];
    for (const { id, finish, attempt, uncounted } of options.items) {
      const result = await trx
        .updateTable('deliveries')
        .set((eb) => ({
          status: finish.status,
          // Claiming counted the attempt; a delivery put back without being tried gives it back.
          attempts: attempt === undefined || uncounted ? eb('attempts', '-', 1) : eb.ref('attempts'),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: options.now,
          ...(finish.status === 'pending' ? { next_attempt_at: finish.nextAttemptAt } : {}),
          last_error: finish.status === 'delivered' ? null : finish.error,
          ...(finish.status === 'delivered'
            ? { result: finish.result ? JSON.stringify(finish.result) : null }
            : {}),
        }))
        .where('id', '=', id)
        .where('status', '=', 'leased')
        .where('lease_owner', '=', options.owner)
        .executeTakeFirst();
      updated.push(Number(result.numUpdatedRows) === 1);
    }
    // Recorded even when the lease was lost: the write in the destination happened either way.
    for (const { identity } of options.items) {
      if (!identity) continue;
      // The gone record's other identifiers (another conversation of the same person) move
      // too, before this delivery's own are written: the next event never meets the dead id.
      for (const gone of identity.replaces ?? [])
        if (gone !== identity.record)
          await replaceRecord(trx, identity.connector, gone, identity.record, options.now);
      await recordIdentities(trx, identity, options.now);
    }
    const attempts = options.items.filter((item) => item.attempt !== undefined);
    if (attempts.length > 0) {
      await trx
        .insertInto('attempts')
        .values(
          attempts.map(({ id, attempt }) => ({
            delivery_id: id,
            started_at: attempt!.startedAt,
            duration_ms: Math.round(attempt!.durationMs),
            outcome: attempt!.outcome,
            status_code: attempt!.statusCode ?? null,
            error: attempt!.error ?? null,
            request_summary: attempt!.requestSummary ?? null,
            response_summary: attempt!.responseSummary ?? null,
          })),
        )
        .execute();
    }
    return updated;
  });
}

/** Gives back every row this worker still leases, due now: what a graceful shutdown does. */
export async function releaseLeases(db: Kysely<Tables>, owner: string, now: number): Promise<number> {
  const result = await db
    .updateTable('deliveries')
    .set({
      status: 'pending',
      lease_owner: null,
      lease_expires_at: null,
      next_attempt_at: now,
      updated_at: now,
    })
    .where('status', '=', 'leased')
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
