import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/** When the earliest pending delivery comes due (uses the `deliveries_due` partial index). */
export async function nextDueAt(db: Kysely<Tables>): Promise<number | undefined> {
  const row = await db
    .selectFrom('deliveries')
    .select('next_attempt_at')
    .where('status', '=', 'pending')
    .orderBy('next_attempt_at')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.next_attempt_at) : undefined;
}
