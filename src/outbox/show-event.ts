import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { type DeliveryRow, listDeliveries } from './list-deliveries.ts';
import { type CorrectionRow, listCorrections } from './record-correction.ts';

/*
 * Design note. One event with its deliveries and their attempt logs, in a
 * few reads (the event, its deliveries, their attempts, its corrections)
 * rather than one join that would repeat the payload per attempt. Looked up
 * by leadrelay's id or the platform's own; the earliest wins when two sources
 * share an external id. `event` is what deliveries send: the corrected event
 * once an operator corrected it, with the event as it arrived beside it.
 */

export interface EventDetail {
  id: string;
  externalId: string;
  source: string;
  type: string;
  receivedAt: number;
  /** The canonical event deliveries send: as corrected, when an operator corrected it. */
  event: Record<string, unknown>;
  /** The event as it arrived, when it has been corrected since; null otherwise (then it is `event`). */
  receivedEvent: Record<string, unknown> | null;
  /** Every field an operator corrected, oldest first. */
  corrections: CorrectionRow[];
  deliveries: DeliveryDetail[];
}

export type DeliveryDetail = DeliveryRow & { attemptLog: AttemptRow[] };

export interface AttemptRow {
  id: number;
  startedAt: number;
  durationMs: number;
  outcome: string;
  statusCode: number | null;
  error: string | null;
  requestSummary: string | null;
  responseSummary: string | null;
}

/** One event by leadrelay id (`ev_…`) or by the platform's id, with every delivery and attempt. */
export async function showEvent(db: Kysely<Tables>, id: string): Promise<EventDetail | undefined> {
  const event = await db
    .selectFrom('events')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', id), eb('external_id', '=', id)]))
    .orderBy('received_at')
    .executeTakeFirst();
  if (!event) return undefined;
  const deliveries = (await listDeliveries(db, { eventId: event.id, limit: 1000 })).reverse();
  const corrected = event.corrected_payload;
  return {
    id: event.id,
    externalId: event.external_id,
    source: event.source,
    type: event.type,
    receivedAt: Number(event.received_at),
    event: JSON.parse(corrected ?? event.payload) as Record<string, unknown>,
    receivedEvent: corrected === null ? null : (JSON.parse(event.payload) as Record<string, unknown>),
    corrections: corrected === null ? [] : await listCorrections(db, event.id),
    deliveries: await withAttemptLogs(db, deliveries),
  };
}

/**
 * One delivery with its attempt log, without its event's payload: what the
 * admin page polls while it follows a retried delivery.
 */
export async function showDelivery(db: Kysely<Tables>, id: number): Promise<DeliveryDetail | undefined> {
  const [delivery] = await withAttemptLogs(db, await listDeliveries(db, { id, limit: 1 }));
  return delivery;
}

async function withAttemptLogs(db: Kysely<Tables>, deliveries: DeliveryRow[]): Promise<DeliveryDetail[]> {
  const attempts = await db
    .selectFrom('attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveries.length > 0 ? deliveries.map((d) => d.id) : [-1])
    .orderBy('id')
    .execute();
  return deliveries.map((delivery) => {
    const attemptLog = attempts
      .filter((attempt) => Number(attempt.delivery_id) === delivery.id)
      .map((attempt) => ({
        id: Number(attempt.id),
        startedAt: Number(attempt.started_at),
        durationMs: Number(attempt.duration_ms),
        outcome: attempt.outcome,
        statusCode: attempt.status_code === null ? null : Number(attempt.status_code),
        error: attempt.error,
        requestSummary: attempt.request_summary,
        responseSummary: attempt.response_summary,
      }));
    // Counted from the log read here, so an attempt that ends between the two reads cannot make them disagree.
    return { ...delivery, attempts: attemptLog.length, attemptLog };
  });
}
