import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. The drift watch (src/drift) reads what a source sent lately
 * straight from the events table instead of keeping counters of its own: the
 * table already holds every accepted and ignored payload, so the CLI, the
 * admin page and every server instance see the same numbers, and nothing is
 * lost on a restart. One source's newest rows come from walking the primary
 * key backwards (ids are time-ordered) and skipping other sources' rows. No
 * index on (source, id) on purpose: every index costs on ingest's hot path,
 * and this read runs once a minute — for a source with 1% of the traffic it
 * reads ~10,000 rows, a few milliseconds.
 */

export interface RecentSourceEvent {
  id: string;
  type: string;
  status: string;
  receivedAt: number;
  /** The canonical event (accepted) or the platform's body (ignored). */
  payload: string;
  /** A mapped source's body as sent; null for canonical sources and older rows. */
  rawPayload: string | null;
}

/** The `limit` newest events of `source`, newest first. */
export async function recentSourceEvents(
  db: Kysely<Tables>,
  source: string,
  limit: number,
): Promise<RecentSourceEvent[]> {
  const rows = await db
    .selectFrom('events')
    .select(['id', 'type', 'status', 'received_at', 'payload', 'raw_payload'])
    .where('source', '=', source)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    status: row.status,
    receivedAt: Number(row.received_at),
    payload: row.payload,
    rawPayload: row.raw_payload,
  }));
}
