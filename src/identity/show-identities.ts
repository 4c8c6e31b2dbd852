import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { e164 } from '../mapping/filters/e164.ts';

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

/**
 * What an operator types, as identifiers: an email, a phone (read as E.164
 * with `phoneRegion` when it has no country code), a full identifier
 * (`visitor:bot:4711`), or a conversation id — of any source, since the
 * operator rarely knows which source's name it was stored under.
 *
 * @example
 * await identifiersFor(db, 'Dana@Acme.example', 'US') // ['email:dana@acme.example']
 * await identifiersFor(db, 'conv_8842', 'US')         // ['conversation:website-bot:conv_8842']
 */
export async function identifiersFor(
  db: Kysely<Tables>,
  text: string,
  phoneRegion: string,
): Promise<string[]> {
  const written = text.trim();
  if (/^(conversation|visitor|email|phone):/.test(written)) return [written];
  if (written.includes('@')) return [`email:${written.toLowerCase()}`];
  if (/^\+?[\d\s().-]{6,}$/.test(written)) {
    const phone = e164(written, phoneRegion);
    return phone ? [`phone:${phone}`] : [];
  }
  const rows = await db
    .selectFrom('identities')
    .select('identifier')
    .distinct()
    // A % or _ in the id only widens the match; the filter below keeps exact ones.
    .where('identifier', 'like', `conversation:%:${written}`)
    .execute();
  return rows.map((row) => row.identifier).filter((identifier) => identifier.endsWith(`:${written}`));
}
