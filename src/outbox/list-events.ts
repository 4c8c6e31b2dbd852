import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import type { EventStatus } from '../db/tables.ts';

/*
 * Design note. The admin's event list: newest first by (received_at, id),
 * paged by keyset (the cursor is the last row's pair), so a page costs the
 * same however deep the operator has scrolled and a new event arriving
 * between pages never shifts one under the cursor. The contact email (as
 * corrected, if an operator corrected it; the search also matches the one
 * that arrived) is read out of the stored JSON by the database
 * (`adapter.jsonText`: json_extract on SQLite, #>> on PostgreSQL) and
 * compared lower-cased; there is no index on it, which is fine for an
 * operator's search over the retention window.
 */

export interface EventFilter {
  type?: string | undefined;
  source?: string | undefined;
  /** Compared case-insensitively with `contact.email`, as corrected or as it arrived. */
  email?: string | undefined;
  /** Received at or after (Unix ms). */
  from?: number | undefined;
  /** Received before (Unix ms). */
  to?: number | undefined;
  /** The `next` of the previous page. */
  cursor?: EventCursor | undefined;
  limit: number;
}

/** Where a page ended: events are listed by (received_at, id), newest first. */
export interface EventCursor {
  receivedAt: number;
  id: string;
}

export interface EventSummary {
  id: string;
  externalId: string;
  source: string;
  type: string;
  status: EventStatus;
  receivedAt: number;
  occurredAt: string | null;
  contactEmail: string | null;
}

/** Events newest first, one page (`limit`) at a time; `next` is null on the last page. */
export async function listEvents(
  { db, adapter }: Pick<Database, 'db' | 'adapter'>,
  filter: EventFilter,
): Promise<{ events: EventSummary[]; next: EventCursor | null }> {
  // The email as deliveries send it (an operator's correction, migration 0003), else as it arrived.
  const current = sql<string>`coalesce(${sql.ref('e.corrected_payload')}, ${sql.ref('e.payload')})`;
  const contactEmail = sql<string | null>`lower(${adapter.jsonText(current, ['contact', 'email'])})`;
  const receivedEmail = sql<
    string | null
  >`lower(${adapter.jsonText(sql.ref('e.payload'), ['contact', 'email'])})`;
  let query = db
    .selectFrom('events as e')
    .select([
      'e.id',
      'e.external_id',
      'e.source',
      'e.type',
      'e.status',
      'e.received_at',
      'e.occurred_at',
      contactEmail.as('contact_email'),
    ])
    .orderBy('e.received_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(filter.limit + 1);
  if (filter.type) query = query.where('e.type', '=', filter.type);
  if (filter.source) query = query.where('e.source', '=', filter.source);
  const email = filter.email?.trim().toLowerCase();
  // Found by the corrected email and by the one that arrived (what a CRM's error quoted).
  if (email)
    query = query.where((eb) => eb.or([eb(contactEmail, '=', email), eb(receivedEmail, '=', email)]));
  if (filter.from !== undefined) query = query.where('e.received_at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('e.received_at', '<', filter.to);
  const cursor = filter.cursor;
  if (cursor) {
    query = query.where((eb) =>
      eb.or([
        eb('e.received_at', '<', cursor.receivedAt),
        eb.and([eb('e.received_at', '=', cursor.receivedAt), eb('e.id', '<', cursor.id)]),
      ]),
    );
  }
  const rows = await query.execute();
  const page = rows.slice(0, filter.limit).map((row) => ({
    id: row.id,
    externalId: row.external_id,
    source: row.source,
    type: row.type,
    status: row.status,
    receivedAt: Number(row.received_at),
    occurredAt: row.occurred_at,
    contactEmail: row.contact_email,
  }));
  const last = page.at(-1);
  return {
    events: page,
    next: rows.length > filter.limit && last ? { receivedAt: last.receivedAt, id: last.id } : null,
  };
}
