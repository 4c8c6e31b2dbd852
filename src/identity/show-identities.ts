import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

export interface IdentityView {
  connector: string;
  record: string;
  /** Every identifier that resolves to this record, with the event that last resolved it. */
  identifiers: { identifier: string; eventId: string; updatedAt: number }[];
}

/*
 * Design note. "Where does this person go?" for `leadrelay identities show`
 * and the admin's event page: the records the given identifiers resolve to,
 * per connector, and for each record every identifier it holds (index
 * identities_record) — so an operator sees that the phone from Monday and the
 * email from Tuesday are one HubSpot contact, or that they are two.
 */
export async function showIdentities(
  db: Kysely<Tables>,
  identifiers: readonly string[],
): Promise<IdentityView[]> {
  if (identifiers.length === 0) return [];
  const hits = await db
    .selectFrom('identities')
    .select(['connector', 'record'])
    .where('identifier', 'in', [...identifiers])
    .execute();
  const views: IdentityView[] = [];
  const seen = new Set<string>();
  for (const { connector, record } of hits) {
    const key = `${connector}\u0000${record}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const rows = await db
      .selectFrom('identities')
      .select(['identifier', 'event_id', 'updated_at'])
      .where('connector', '=', connector)
      .where('record', '=', record)
      .orderBy('identifier')
      .execute();
    views.push({
      connector,
      record,
      identifiers: rows.map((row) => ({
        identifier: row.identifier,
        eventId: row.event_id,
        updatedAt: Number(row.updated_at),
      })),
    });
  }
  return views.sort((a, b) => a.connector.localeCompare(b.connector) || a.record.localeCompare(b.record));
}
