import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

/**
 * When the earliest pending delivery of these connectors comes due. One
 * indexed look-up per connector (`deliveries_due` leads with the connector),
 * so the cost does not grow with the number of rows.
 */
export async function nextDueAt(
  db: Kysely<Tables>,
  connectors: readonly string[],
): Promise<number | undefined> {
  let earliest: number | undefined;
  for (const connector of connectors) {
    const row = await db
      .selectFrom('deliveries')
      .select('next_attempt_at')
      .where('connector', '=', connector)
      .where('status', '=', sql.lit('pending'))
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst();
    if (row && (earliest === undefined || Number(row.next_attempt_at) < earliest))
      earliest = Number(row.next_attempt_at);
  }
  return earliest;
}
