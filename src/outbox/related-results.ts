import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

export interface RelatedDelivery {
  status: string;
  result: Record<string, unknown> | undefined;
}

/** The other deliveries of one event, by connector: what a waiting connector (Slack buttons) needs. */
export async function relatedDeliveries(
  db: Kysely<Tables>,
  eventId: string,
  connectors: readonly string[],
): Promise<Map<string, RelatedDelivery>> {
  if (connectors.length === 0) return new Map();
  const rows = await db
    .selectFrom('deliveries')
    .select(['connector', 'status', 'result'])
    .where('event_id', '=', eventId)
    .where('connector', 'in', connectors)
    .execute();
  return new Map(
    rows.map((row) => [
      row.connector,
      {
        status: row.status,
        result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : undefined,
      },
    ]),
  );
}

/** Marks pending rows of connectors that no longer exist in the configuration as dead, saying why. */
export async function buryOrphans(
  db: Kysely<Tables>,
  known: readonly string[],
  now: number,
): Promise<number> {
  let query = db
    .updateTable('deliveries')
    .set((eb) => ({
      status: 'dead',
      updated_at: now,
      last_error: eb.fn<string>('concat', [
        eb.val('no connector named "'),
        eb.ref('connector'),
        eb.val('" in the configuration'),
      ]),
    }))
    .where('status', '=', 'pending');
  if (known.length > 0) query = query.where('connector', 'not in', known);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
