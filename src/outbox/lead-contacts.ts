import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import { type LeadSummary, leadSummary } from '../event/lead-summary.ts';

/*
 * Design note. The lead of each event in a list (the admin's dead list): the
 * contact fields are read out of the stored JSON by the database
 * (`adapter.jsonText`), as corrected when an operator corrected the event, so
 * a page of 200 rows never loads 200 transcripts. One statement by primary
 * key for the whole page.
 */

const FIELDS = ['name', 'first_name', 'last_name', 'email', 'phone', 'company', 'job_title'] as const;

/**
 * The lead of each of these events, by event id (events without a contact
 * map to a summary whose fields are all undefined).
 *
 * @example
 * (await leadContacts(store, ['ev_01JDQ…'])).get('ev_01JDQ…')?.label // 'Dana Reyes'
 */
export async function leadContacts(
  { db, adapter }: Pick<Database, 'db' | 'adapter'>,
  eventIds: readonly string[],
): Promise<Map<string, LeadSummary>> {
  const leads = new Map<string, LeadSummary>();
  if (eventIds.length === 0) return leads;
  const current = sql<string>`coalesce(${sql.ref('e.corrected_payload')}, ${sql.ref('e.payload')})`;
  const rows = await db
    .selectFrom('events as e')
    .select(['e.id', ...FIELDS.map((field) => adapter.jsonText(current, ['contact', field]).as(field))])
    .where('e.id', 'in', [...new Set(eventIds)])
    .execute();
  for (const row of rows) {
    const contact = row as unknown as Record<(typeof FIELDS)[number], unknown>;
    leads.set(row.id, leadSummary(contact));
  }
  return leads;
}
