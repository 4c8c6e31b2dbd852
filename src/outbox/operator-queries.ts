import type { Kysely } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/*
 * What an operator does with the outbox — list, retry, inspect, replay —
 * shared by the CLI and the admin API so both always agree.
 */

export interface DeliveryRow {
  id: number;
  eventId: string;
  externalId: string;
  source: string;
  type: string;
  connector: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  result: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
}

export async function listDeliveries(
  db: Kysely<Tables>,
  filter: {
    status?: DeliveryStatus | undefined;
    connector?: string | undefined;
    eventId?: string;
    limit?: number;
  },
): Promise<DeliveryRow[]> {
  let query = db
    .selectFrom('deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'd.event_id',
      'e.external_id',
      'e.source',
      'e.type',
      'd.connector',
      'd.status',
      'd.attempts',
      'd.next_attempt_at',
      'd.last_error',
      'd.result',
      'd.created_at',
      'd.updated_at',
    ])
    .orderBy('d.id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.status) query = query.where('d.status', '=', filter.status);
  if (filter.connector) query = query.where('d.connector', '=', filter.connector);
  if (filter.eventId) query = query.where('d.event_id', '=', filter.eventId);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: Number(row.id),
    eventId: row.event_id,
    externalId: row.external_id,
    source: row.source,
    type: row.type,
    connector: row.connector,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: row.last_error,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  }));
}

/**
 * Puts dead deliveries back in the queue, due now, with a fresh retry
 * schedule (their attempt history stays). By ids, or every dead one
 * (optionally of one connector). Returns how many were requeued.
 */
export async function retryDead(
  db: Kysely<Tables>,
  target: { ids: readonly number[] } | { allDead: true; connector?: string | undefined },
  now: number,
): Promise<number> {
  let query = db
    .updateTable('deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now, last_error: null })
    .where('status', '=', 'dead');
  if ('ids' in target) {
    if (target.ids.length === 0) return 0;
    query = query.where('id', 'in', [...target.ids]);
  } else if (target.connector) {
    query = query.where('connector', '=', target.connector);
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

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

/**
 * Delivers an event again: one new pending delivery per connector given
 * (its routes under the current configuration). Earlier deliveries stay as
 * they were, for the record. Returns the new delivery ids.
 */
export async function replayEvent(
  db: Kysely<Tables>,
  event: { id: string; orderingKey: string | null },
  connectors: readonly string[],
  now: number,
): Promise<number[]> {
  if (connectors.length === 0) return [];
  const rows = await db
    .insertInto('deliveries')
    .values(
      connectors.map((connector) => ({
        event_id: event.id,
        connector,
        ordering_key: event.orderingKey,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })),
    )
    .returning('id')
    .execute();
  return rows.map((row) => Number(row.id));
}
