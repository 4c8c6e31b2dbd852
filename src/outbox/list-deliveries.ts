import type { Kysely } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/*
 * Design note. Deliveries newest first with their event's identity, for
 * `leadrelay deliveries`, the admin dead list and an event's detail (by
 * event id). Shared by the CLI and the admin API so both always agree. The
 * status filter walks the status indexes; `limit` bounds every call.
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
