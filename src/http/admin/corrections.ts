import type { FieldError } from '../../event/canonical-event.ts';
import { type AppliedCorrection, correctEvent, type FieldCorrection } from '../../event/correct-event.ts';
import { eventToCorrect, recordCorrection } from '../../outbox/record-correction.ts';
import type { AdminDependencies } from './operations.ts';

export interface CorrectionRequest {
  changes: readonly FieldCorrection[];
  /** Who is correcting, as they name themselves. */
  by: string;
  /** The client address the request came from. */
  client: string;
  /** Put the event's dead deliveries back in the queue (default in the API and the page). */
  retry: boolean;
}

export type CorrectionOutcome =
  | { ok: true; eventId: string; corrections: AppliedCorrection[]; retried: number[] }
  | {
      ok: false;
      status: 400 | 404 | 409 | 422;
      error: string;
      message: string;
      details?: FieldError[];
    };

/** At most this long, and free of control characters: it is shown on the event page and logged. */
const BY_LIMIT = 100;

/**
 * An operator's correction of a stored event, then (by default) a retry of
 * its dead deliveries with the corrected event: the admin API's
 * `POST /admin/api/events/:id/corrections` and the page's correction dialog.
 * The corrected event must pass the same validation as ingest; the event as
 * it arrived is kept, and every changed field is recorded with who and when.
 *
 * @example
 * await correctStoredEvent(deps, 'ev_01JDQ…', { changes: [{ path: 'contact.email', value: 'dana@acme.example' }],
 *   by: 'Sam', client: '127.0.0.1', retry: true })
 * // → { ok: true, eventId: 'ev_01JDQ…', corrections: [{ path: 'contact.email', from: 'dana@acme', to: … }], retried: [42] }
 */
export async function correctStoredEvent(
  deps: AdminDependencies,
  id: string,
  request: CorrectionRequest,
): Promise<CorrectionOutcome> {
  const by = request.by.trim();
  if (by.length === 0 || by.length > BY_LIMIT || /[\p{Cc}\p{Cf}]/u.test(by)) {
    return {
      ok: false,
      status: 400,
      error: 'bad_request',
      message: `"by" must name who is correcting (1 to ${BY_LIMIT} characters, no control characters)`,
    };
  }
  const stored = await eventToCorrect(deps.store.db, id);
  if (!stored) return { ok: false, status: 404, error: 'not_found', message: `no event with id "${id}"` };
  if (stored.status === 'ignored') {
    return {
      ok: false,
      status: 409,
      error: 'no_dead_delivery',
      message: `event ${stored.id} was ignored (no route, no delivery); there is nothing to correct and retry`,
    };
  }
  const current = JSON.parse(stored.correctedPayload ?? stored.payload) as Record<string, unknown>;
  const corrected = correctEvent(current, request.changes);
  if (!corrected.ok) {
    return corrected.kind === 'invalid'
      ? {
          ok: false,
          status: 422,
          error: 'invalid_event',
          message: 'the corrected event does not match the event schema; nothing was changed',
          details: corrected.errors,
        }
      : {
          ok: false,
          status: 400,
          error: 'bad_request',
          message: corrected.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '),
          details: corrected.errors,
        };
  }
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  const recorded = await recordCorrection(deps.store.db, {
    eventId: stored.id,
    basedOn: stored.correctedPayload,
    corrected: JSON.stringify(corrected.event),
    changes: corrected.applied.map((change) => ({
      path: change.path,
      oldValue: json(change.from),
      newValue: json(change.to),
    })),
    by,
    client: request.client,
    now: deps.now(),
    retry: request.retry,
  });
  if (!recorded.ok) {
    return recorded.reason === 'changed'
      ? {
          ok: false,
          status: 409,
          error: 'changed',
          message: `event ${stored.id} was corrected by someone else meanwhile; reload it and correct again`,
        }
      : {
          ok: false,
          status: 409,
          error: 'no_dead_delivery',
          message: `event ${stored.id} has no dead delivery; a correction is for retrying one (replay the event to send it again)`,
        };
  }
  if (recorded.retried.length > 0) deps.wake?.();
  return { ok: true, eventId: stored.id, corrections: corrected.applied, retried: recorded.retried };
}
