import { type Kysely, sql } from 'kysely';
import type { Tables } from '../db/tables.ts';

/** A leased delivery with what a connector needs to perform it. */
export interface ClaimedDelivery {
  id: number;
  eventId: string;
  connector: string;
  orderingKey: string | null;
  /** Attempts started so far, this one included (1 on the first). */
  attempts: number;
  createdAt: number;
  source: string;
  receivedAt: number;
  event: Record<string, unknown>;
}

/*
 * Design note. One UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING claims
 * rows atomically: on SQLite the statement holds the write lock, so two
 * workers (threads or processes) can never lease the same row; on PostgreSQL
 * the inner SELECT adds FOR UPDATE SKIP LOCKED, so concurrent claimers skip
 * each other's rows instead of waiting.
 *
 * A row is claimable when it is due (pending and next_attempt_at has come)
 * or its lease ran out (its worker died), and no earlier delivery to the same
 * connector for the same ordering key is still open — which is how a later
 * event never overtakes an earlier one that is still retrying. Dead rows do
 * not block: "open" means pending or leased only.
 */
export async function claimDeliveries(
  db: Kysely<Tables>,
  options: {
    connector: string;
    limit: number;
    owner: string;
    leaseMs: number;
    now: number;
    skipLocked: boolean;
  },
): Promise<ClaimedDelivery[]> {
  if (options.limit <= 0) return [];
  const { connector, owner, now } = options;
  let candidates = db
    .selectFrom('deliveries as d')
    .select('d.id')
    .where('d.connector', '=', connector)
    .where((eb) =>
      eb.or([
        eb.and([eb('d.status', '=', 'pending'), eb('d.next_attempt_at', '<=', now)]),
        eb.and([eb('d.status', '=', 'leased'), eb('d.lease_expires_at', '<', now)]),
      ]),
    )
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('deliveries as earlier')
            .select(sql.lit(1).as('one'))
            .where('earlier.connector', '=', connector)
            .whereRef('earlier.ordering_key', '=', 'd.ordering_key')
            .whereRef('earlier.id', '<', 'd.id')
            .where('earlier.status', 'in', ['pending', 'leased']),
        ),
      ),
    )
    .orderBy('d.id')
    .limit(options.limit);
  if (options.skipLocked) candidates = candidates.forUpdate().skipLocked();

  const claimed = await db
    .updateTable('deliveries')
    // The attempt is counted when it starts, not when it ends: a worker that dies
    // mid-call leaves the count raised, so the retry knows an earlier attempt
    // may have had effects and checks before redoing them.
    .set((eb) => ({
      status: 'leased',
      lease_owner: owner,
      lease_expires_at: now + options.leaseMs,
      updated_at: now,
      attempts: eb('attempts', '+', 1),
    }))
    .where('id', 'in', candidates)
    .returning(['id'])
    .execute();
  if (claimed.length === 0) return [];

  const rows = await db
    .selectFrom('deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'd.event_id',
      'd.connector',
      'd.ordering_key',
      'd.attempts',
      'd.created_at',
      'e.source',
      'e.received_at',
      'e.payload',
    ])
    .where(
      'd.id',
      'in',
      claimed.map((row) => row.id),
    )
    .orderBy('d.id')
    .execute();
  return rows.map((row) => ({
    id: Number(row.id),
    eventId: row.event_id,
    connector: row.connector,
    orderingKey: row.ordering_key,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    source: row.source,
    receivedAt: Number(row.received_at),
    event: JSON.parse(row.payload) as Record<string, unknown>,
  }));
}
