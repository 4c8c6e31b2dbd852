import type { Kysely } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/*
 * Design note. Deliveries newest first with their event's identity, for
 * `leadrelay deliveries`, the admin dead list and an event's detail (by
 * event id). Shared by the CLI and the admin API so both always agree. The
 * status filter walks the status indexes; `limit` bounds every call.
 *
 * `attempts` is the number of attempts in the delivery's attempt log, counted
 * there (index `attempts_delivery`), not the row's `attempts` column: that
 * column is the retry schedule's position, which a retry of a dead delivery
 * restarts at 0 (and an attempt that sent nothing gives back), so it said
 * "1 attempt(s)" above a timeline of two once a delivery had been retried.
 */

export interface DeliveryRow {
  id: number;
  eventId: string;
  externalId: string;
  source: string;
  type: string;
  connector: string;
  status: DeliveryStatus;
  /** Attempts made, as many as the attempt log lists (retries included). */
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
    id?: number;
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
      (eb) =>
        eb
          .selectFrom('attempts as a')
          .select((a) => a.fn.countAll<number>().as('n'))
          .whereRef('a.delivery_id', '=', 'd.id')
          .as('attempts_made'),
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
  if (filter.id !== undefined) query = query.where('d.id', '=', filter.id);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: Number(row.id),
    eventId: row.event_id,
    externalId: row.external_id,
    source: row.source,
    type: row.type,
    connector: row.connector,
    status: row.status,
    attempts: Number(row.attempts_made),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: row.last_error,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  }));
}
