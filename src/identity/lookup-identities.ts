import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. Before a delivery, the worker asks which records this
 * connector already resolved the event's identifiers to: one statement, a
 * primary-key look-up per identifier (an event has at most four). The answer
 * goes to the connector as `DeliveryContext.known`; it decides what to do
 * with it (HubSpot updates the known contact by id; Slack replies in the
 * known thread). Reading outside the claim's transaction is fine: a row only
 * ever gains identifiers or moves to a surviving record, and a connector
 * that finds the record gone (deleted, merged) says so in its result.
 */
export async function lookupIdentities(
  db: Kysely<Tables>,
  connector: string,
  identifiers: readonly string[],
): Promise<Record<string, string>> {
  if (identifiers.length === 0) return {};
  const rows = await db
    .selectFrom('identities')
    .select(['identifier', 'record'])
    .where('connector', '=', connector)
    .where('identifier', 'in', [...identifiers])
    .execute();
  return Object.fromEntries(rows.map((row) => [row.identifier, row.record]));
}
