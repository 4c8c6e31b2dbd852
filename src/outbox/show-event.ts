import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { type DeliveryRow, listDeliveries } from './list-deliveries.ts';

/*
 * Design note. One event with its deliveries and their attempt logs, in three
 * reads (the event, its deliveries, their attempts) rather than one join
 * that would repeat the payload per attempt. Looked up by leadrelay's id or
 * the platform's own; the earliest wins when two sources share an external id.
 */

export interface EventDetail {
  id: string;
  externalId: string;
  source: string;
  type: string;
  receivedAt: number;
  event: Record<string, unknown>;
  deliveries: (DeliveryRow & { attemptLog: AttemptRow[] })[];
}

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
  const attempts = await db
    .selectFrom('attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveries.length > 0 ? deliveries.map((d) => d.id) : [-1])
    .orderBy('id')
    .execute();
  return {
    id: event.id,
    externalId: event.external_id,
    source: event.source,
    type: event.type,
    receivedAt: Number(event.received_at),
    event: JSON.parse(event.payload) as Record<string, unknown>,
    deliveries: deliveries.map((delivery) => ({
      ...delivery,
      attemptLog: attempts
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
        })),
    })),
  };
}
