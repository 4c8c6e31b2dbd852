import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { identifiersOf } from '../identity/identifiers.ts';
import { addReplayDeliveries } from '../outbox/add-replay-deliveries.ts';
import { showEvent } from '../outbox/show-event.ts';
import { orderingKey } from './ordering-key.ts';
import { type CompiledRoute, routeEvent } from './router.ts';

/**
 * Queues a stored event again for the connectors its routes name under the
 * routes in force now, as if it had just arrived (earlier deliveries stay, for
 * the record): `leadrelay events replay` and the admin page's Replay button.
 * Undefined when there is no such event.
 */
export async function replayStoredEvent(
  db: Kysely<Tables>,
  routes: readonly CompiledRoute[],
  id: string,
  now: number,
): Promise<{ eventId: string; connectors: string[]; deliveries: number[] } | undefined> {
  const detail = await showEvent(db, id);
  if (!detail) return undefined;
  const connectors = routeEvent(routes, detail.source, detail.event as { type: string });
  // The person the event was linked to when it arrived (it links every identifier it
  // carried), so the replay queues behind that person's other deliveries.
  const identifiers = identifiersOf(detail.source, detail.event);
  const linked =
    identifiers.length === 0
      ? undefined
      : await db
          .selectFrom('people')
          .select('person')
          .where('identifier', '=', identifiers[0] as string)
          .executeTakeFirst();
  const deliveries = await addReplayDeliveries(
    db,
    { id: detail.id, orderingKey: linked?.person ?? orderingKey(detail.event) },
    connectors,
    now,
  );
  return { eventId: detail.id, connectors, deliveries };
}
