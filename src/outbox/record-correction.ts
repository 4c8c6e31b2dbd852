import type { Kysely } from 'kysely';
import type { EventStatus, Tables } from '../db/tables.ts';
import { retryDeadOfEvent } from './retry-dead.ts';

/*
 * Design note. A correction is read, computed by the caller, then written in
 * one transaction that (1) replaces `events.corrected_payload` only if it is
 * still what the caller read — a compare-and-set that works the same on both
 * dialects, so two operators correcting one event at once cannot silently
 * lose one change (the second is told to reload); (2) adds one
 * `event_corrections` row per changed field; (3) puts the event's dead
 * deliveries back in the queue. The requeue commits with the corrected
 * event, so no worker can claim a retried delivery and still read the old
 * one. An event with no dead delivery is refused: a correction exists to fix
 * what a destination refused (a delivered one would not be resent; a
 * pending one is better left to finish, or to die, first).
 */

/** A stored event as a correction starts from. */
export interface EventToCorrect {
  id: string;
  status: EventStatus;
  /** As it arrived. */
  payload: string;
  /** As corrected so far, or null. */
  correctedPayload: string | null;
}

/** The event by leadrelay id or the platform's (the earliest when two sources share one), as showEvent finds it. */
export async function eventToCorrect(db: Kysely<Tables>, id: string): Promise<EventToCorrect | undefined> {
  const row = await db
    .selectFrom('events')
    .select(['id', 'status', 'payload', 'corrected_payload'])
    .where((eb) => eb.or([eb('id', '=', id), eb('external_id', '=', id)]))
    .orderBy('received_at')
    .executeTakeFirst();
  return row
    ? { id: row.id, status: row.status, payload: row.payload, correctedPayload: row.corrected_payload }
    : undefined;
}

export interface CorrectionToRecord {
  eventId: string;
  /** `corrected_payload` as read when the correction was computed (null: never corrected). */
  basedOn: string | null;
  /** The whole event after the correction, JSON. */
  corrected: string;
  /** JSON text of each value before and after; null where the field is absent. */
  changes: readonly { path: string; oldValue: string | null; newValue: string | null }[];
  by: string;
  client: string | null;
  now: number;
  /** Put the event's dead deliveries back in the queue, due now. */
  retry: boolean;
}

export type RecordedCorrection =
  | { ok: true; retried: number[] }
  | { ok: false; reason: 'changed' | 'no_dead_delivery' };

class Refused extends Error {
  constructor(readonly reason: 'changed' | 'no_dead_delivery') {
    super(reason);
  }
}

/**
 * Stores a correction and, with `retry`, requeues the event's dead
 * deliveries, all or nothing.
 *
 * @example
 * await recordCorrection(db, { eventId, basedOn: null, corrected: JSON.stringify(event),
 *   changes: [{ path: 'contact.email', oldValue: '"dana@acme"', newValue: '"dana@acme.example"' }],
 *   by: 'Sam', client: '127.0.0.1', now: Date.now(), retry: true })
 * // → { ok: true, retried: [42] }
 */
export async function recordCorrection(
  db: Kysely<Tables>,
  input: CorrectionToRecord,
): Promise<RecordedCorrection> {
  try {
    return await db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('events')
        .set({ corrected_payload: input.corrected })
        .where('id', '=', input.eventId)
        .where((eb) =>
          input.basedOn === null
            ? eb('corrected_payload', 'is', null)
            : eb('corrected_payload', '=', input.basedOn),
        )
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) throw new Refused('changed');
      let retried: number[] = [];
      if (input.retry) {
        retried = await retryDeadOfEvent(trx, input.eventId, input.now);
        if (retried.length === 0) throw new Refused('no_dead_delivery');
      } else {
        const dead = await trx
          .selectFrom('deliveries')
          .select('id')
          .where('event_id', '=', input.eventId)
          .where('status', '=', 'dead')
          .limit(1)
          .executeTakeFirst();
        if (!dead) throw new Refused('no_dead_delivery');
      }
      await trx
        .insertInto('event_corrections')
        .values(
          input.changes.map((change) => ({
            event_id: input.eventId,
            path: change.path,
            old_value: change.oldValue,
            new_value: change.newValue,
            corrected_by: input.by,
            client: input.client,
            corrected_at: input.now,
          })),
        )
        .execute();
      return { ok: true as const, retried };
    });
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.reason };
    throw error;
  }
}

/** One recorded change, oldest first; `from` / `to` are null where the field was absent. */
export interface CorrectionRow {
  id: number;
  path: string;
  from: unknown;
  to: unknown;
  by: string;
  client: string | null;
  at: number;
}

/** An event's corrections, oldest first (index `event_corrections_event`). */
export async function listCorrections(db: Kysely<Tables>, eventId: string): Promise<CorrectionRow[]> {
  const rows = await db
    .selectFrom('event_corrections')
    .selectAll()
    .where('event_id', '=', eventId)
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: Number(row.id),
    path: row.path,
    from: row.old_value === null ? null : JSON.parse(row.old_value),
    to: row.new_value === null ? null : JSON.parse(row.new_value),
    by: row.corrected_by,
    client: row.client,
    at: Number(row.corrected_at),
  }));
}
