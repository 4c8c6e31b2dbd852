import type { Kysely } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/*
 * Design note. By primary key: how the admin page tells, after a retry,
 * whether the delivery is still in flight, delivered, or dead again.
 */

/** One delivery's status, or undefined when there is no such delivery. */
export async function deliveryStatus(db: Kysely<Tables>, id: number): Promise<DeliveryStatus | undefined> {
  const row = await db.selectFrom('deliveries').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}
