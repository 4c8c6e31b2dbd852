import { type Expression, type Kysely, type RawBuilder, sql } from 'kysely';
import type { DeliveryStatus, EventStatus, Tables } from '../db/tables.ts';

/*
 * Read-only queries the admin API needs beyond the operator queries shared
 * with the CLI (operator-queries.ts). The only dialect-specific SQL is the
 * JSON extraction of the contact email from `events.payload` (JSON text),
 * kept in `contactEmail` so a PostgreSQL store only changes that one place.
 */

export type Dialect = 'sqlite' | 'postgres';

/** `payload.contact.email`, lower-cased, as an SQL expression. */
export function contactEmail(dialect: Dialect, payload: Expression<string>): RawBuilder<string | null> {
  return dialect === 'postgres'
    ? sql<string | null>`lower(cast(${payload} as jsonb) #>> '{contact,email}')`
    : sql<string | null>`lower(json_extract(${payload}, '$.contact.email'))`;
}

export interface EventFilter {
  type?: string | undefined;
  source?: string | undefined;
  /** Compared case-insensitively with `contact.email`. */
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
  db: Kysely<Tables>,
  dialect: Dialect,
  filter: EventFilter,
): Promise<{ events: EventSummary[]; next: EventCursor | null }> {
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
      contactEmail(dialect, sql.ref('e.payload')).as('contact_email'),
    ])
    .orderBy('e.received_at', 'desc')
    .orderBy('e.id', 'desc')
    .limit(filter.limit + 1);
  if (filter.type) query = query.where('e.type', '=', filter.type);
  if (filter.source) query = query.where('e.source', '=', filter.source);
  if (filter.email)
    query = query.where(contactEmail(dialect, sql.ref('e.payload')), '=', filter.email.trim().toLowerCase());
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

export interface QueueOverview {
  /** Deliveries by connector, then status (every status present, zeros included). */
  byConnector: Record<string, Record<DeliveryStatus, number>>;
  totals: Record<DeliveryStatus, number>;
  /** Age of the oldest unfinished (pending or leased) delivery, null when there is none. */
  oldestPendingAgeMs: number | null;
  oldestPendingAgeMsByConnector: Record<string, number>;
}

const STATUSES: readonly DeliveryStatus[] = ['pending', 'leased', 'delivered', 'dead'];

function zeros(): Record<DeliveryStatus, number> {
  return { pending: 0, leased: 0, delivered: 0, dead: 0 };
}

/** Counts by connector and status, and how long the oldest unfinished delivery has waited. */
export async function queueOverview(db: Kysely<Tables>, now: number): Promise<QueueOverview> {
  const counts = await db
    .selectFrom('deliveries')
    .select(['connector', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['connector', 'status'])
    .execute();
  const oldest = await db
    .selectFrom('deliveries')
    .select(['connector', (eb) => eb.fn.min<number>('created_at').as('oldest')])
    .where('status', 'in', ['pending', 'leased'])
    .groupBy('connector')
    .execute();
  const byConnector: Record<string, Record<DeliveryStatus, number>> = {};
  const totals = zeros();
  for (const row of counts) {
    if (!STATUSES.includes(row.status)) continue;
    byConnector[row.connector] ??= zeros();
    byConnector[row.connector]![row.status] += Number(row.n);
    totals[row.status] += Number(row.n);
  }
  const oldestPendingAgeMsByConnector: Record<string, number> = {};
  let oldestPendingAgeMs: number | null = null;
  for (const row of oldest) {
    const age = Math.max(0, now - Number(row.oldest));
    oldestPendingAgeMsByConnector[row.connector] = age;
    oldestPendingAgeMs = Math.max(oldestPendingAgeMs ?? 0, age);
  }
  return { byConnector, totals, oldestPendingAgeMs, oldestPendingAgeMsByConnector };
}

/** One delivery's status, or undefined when there is no such delivery. */
export async function deliveryStatus(db: Kysely<Tables>, id: number): Promise<DeliveryStatus | undefined> {
  const row = await db.selectFrom('deliveries').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}
