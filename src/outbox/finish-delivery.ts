import type { Kysely } from 'kysely';
import type { AttemptOutcome, Tables } from '../db/tables.ts';

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

/*
 * Design note. Finishing is guarded by the lease: the update only applies if
 * this worker still owns the row. A worker that stalled past its lease may
 * find another worker already took the row over; its late result is then
 * recorded as an attempt (it did happen) but does not overwrite the row's
 * state. Returns whether the row was updated.
 */
export async function finishDelivery(
  db: Kysely<Tables>,
  options: {
    id: number;
    owner: string;
    now: number;
    finish: Finish;
    attempt: AttemptRecord;
    countsAsAttempt?: boolean;
  },
): Promise<boolean> {
  const { finish, attempt } = options;
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('deliveries')
      .set((eb) => ({
        status: finish.status,
        // Claiming counted the attempt; a delivery put back without being tried gives it back.
        attempts: options.countsAsAttempt === false ? eb('attempts', '-', 1) : eb.ref('attempts'),
        lease_owner: null,
        lease_expires_at: null,
        updated_at: options.now,
        ...(finish.status === 'pending' ? { next_attempt_at: finish.nextAttemptAt } : {}),
        last_error: finish.status === 'delivered' ? null : finish.error,
        ...(finish.status === 'delivered'
          ? { result: finish.result ? JSON.stringify(finish.result) : null }
          : {}),
      }))
      .where('id', '=', options.id)
      .where('status', '=', 'leased')
      .where('lease_owner', '=', options.owner)
      .executeTakeFirst();
    if (options.countsAsAttempt !== false) {
      await trx
        .insertInto('attempts')
        .values({
          delivery_id: options.id,
          started_at: attempt.startedAt,
          duration_ms: Math.round(attempt.durationMs),
          outcome: attempt.outcome,
          status_code: attempt.statusCode ?? null,
          error: attempt.error ?? null,
          request_summary: attempt.requestSummary ?? null,
          response_summary: attempt.responseSummary ?? null,
        })
        .execute();
    }
    return Number(updated.numUpdatedRows) === 1;
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
