import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/** A leased delivery with what a connector needs to perform it. */
export interface ClaimedDelivery {
  id: number;
  eventId: string;
  connector: string;
  orderingKey: string | null;
  /** Attempts started so far, this one included (1 on the first). */
  attempts: number;
  /**
   * A time by which every earlier attempt had made all its writes: the end
   * of the last recorded attempt, or now when the row is taken over from a
   * worker that died (its attempt was never recorded, and ended before its
   * lease ran out). Undefined on a first attempt.
   */
  earlierAttemptsEndedBy: number | undefined;
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
 * Statuses are written as SQL literals, not parameters: SQLite uses a
 * partial index only when it can prove the query's WHERE implies the
 * index's, which it cannot for a bound value.
 *
 * A row is claimable when its lease ran out (its worker died) or it is due
 * (pending and next_attempt_at has come) — two statements, each walking its
 * own partial index — and no earlier delivery to the same
 * connector for the same ordering key is still open — which is how a later
 * event never overtakes an earlier one that is still retrying. Dead rows do
 * not block: "open" means pending or leased only.
 *
 * On PostgreSQL several processes claim at once, each statement under its
 * own READ COMMITTED snapshot. A claim first takes a transaction-scoped
 * advisory lock on its connector (pg_advisory_xact_lock(hashtext(…))), so
 * claims for one connector take turns and each one sees every earlier
 * claim's leases committed: the NOT EXISTS check then means the same as on
 * SQLite, without relying on how PostgreSQL re-checks a row it found locked
 * or changed (it re-tests the row's own status but not the subquery's
 * snapshot), and claimers do not race each other for the same head rows.
 * The cost: one claim at a time per connector across all processes — a
 * claim is a few milliseconds and leases up to a whole batch, so this caps
 * claims, not deliveries. Other connectors, ingest and finishing never wait
 * for it; SKIP LOCKED still keeps a claim from waiting on rows that a
 * finisher or an admin update holds.
 */
/**
 * Design note on waiting. A connector that takes results from others (Slack
 * buttons need the CRM record's URL) must not start before those deliveries
 * of the same event have finished, but must not wait for ever either. That is
 * part of what makes a row claimable, so it is a condition of the claim
 * itself: a pending row is skipped while a delivery of its event to one of
 * the connectors it waits for is still pending or leased, until
 * `timeoutMs` after the row was created (the event's arrival, or the replay).
 * Nothing is leased, rewritten or counted as an attempt while it waits; the
 * worker is woken when the awaited delivery finishes (in this process) or by
 * its poll (in another), and next-due.ts reports the timeout as a due time.
 */
export interface WaitsFor {
  connectors: readonly string[];
  timeoutMs: number;
}

export interface ClaimOptions {
  connector: string;
  limit: number;
  owner: string;
  leaseMs: number;
  now: number;
  /** Several processes claim at once (PostgreSQL): take turns per connector and skip locked rows. */
  takeTurns: boolean;
  /**
   * The connectors whose deliveries of the same event this one waits for
   * (a Slack alert linking to the CRM record), and for how long at most.
   */
  waitsFor?: WaitsFor | undefined;
  /**
   * Rows this worker is performing right now. Their leases are renewed while
   * they run, so they expire only if the worker stalled for a whole lease; even
   * then the worker must not start them a second time itself.
   */
  inFlight?: readonly number[];
}

export async function claimDeliveries(db: Kysely<Tables>, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (options.limit <= 0) return [];
  if (!options.takeTurns) return withEvents(db, await leaseClaimable(db, options), options.now);
  // PostgreSQL: claims for one connector take turns (see the design note above). The lock
  // is held until commit, so only the leasing runs under it: one statement takes the lock and,
  // since nothing waits for this commit's WAL flush, lets it return before the flush; the
  // events are read once the leases are ours (the note on claim round trips below).
  const leased = await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`leadrelay:claim:${options.connector}`})), set_config('synchronous_commit', 'off', true)`.execute(
      trx,
    );
    return leaseClaimable(trx, options);
  });
  return withEvents(db, leased, options.now);
}

/*
 * Design note on claim round trips. Every claim of a connector, in every
 * process, waits for the advisory lock, so what a claim does while holding
 * it caps how many claims per second all workers together can make. With
 * three workers on a busy two-core machine a claim took 28 ms on average,
 * most of it queueing for the lock, and the workers' free slots waited for
 * it (docs/scaling.md). So the lock covers only what must be serialised —
 * choosing and leasing rows — in five round trips (begin, the lock, the
 * two leasing statements, commit) rather than seven; reading the leased
 * rows' events follows outside it, when no other claimer can take them.
 * Should that read fail (the database gone between the two), the rows stay
 * leased to this worker, unrenewed: their lease runs out and they are claimed
 * again as taken over, checked before redoing — later, never lost. (On SQLite
 * the leasing statements never shared a transaction with the read either.)
 */

/** Leases what is claimable: rows whose worker died first (their leases ran out), then due rows, oldest due first. */
async function leaseClaimable(db: Kysely<Tables>, options: ClaimOptions): Promise<Leased> {
  const { now } = options;
  const inFlight = options.inFlight ?? [];
  const expired = await lease(db, options, options.limit, (query) =>
    (inFlight.length > 0 ? query.where('d.id', 'not in', inFlight) : query)
      .where('d.status', '=', sql.lit('leased'))
      .where('d.lease_expires_at', '<', now)
      .orderBy('d.lease_expires_at'),
  );
  const due = await lease(db, options, options.limit - expired.length, (query) =>
    notWaiting(query, options.waitsFor, now)
      .where('d.status', '=', sql.lit('pending'))
      .where('d.next_attempt_at', '<=', now)
      .orderBy('d.next_attempt_at')
      .orderBy('d.id'),
  );
  return { ids: [...expired, ...due].map((row) => row.id), takenOver: new Set(expired.map((row) => row.id)) };
}

/** Rows this claim leased, and which of them it took over from a worker that died. */
interface Leased {
  ids: number[];
  takenOver: Set<number>;
}

type Candidates = SelectQueryBuilder<Tables & { d: Tables['deliveries'] }, 'd', { id: number }>;

/**
 * Rows `d` with no earlier open (pending or leased) delivery to the same
 * connector for the same ordering key: a later event never overtakes one
 * that is still retrying.
 */
export function notBehindAnOpenDelivery<
  Q extends SelectQueryBuilder<Tables & { d: Tables['deliveries'] }, 'd', object>,
>(query: Q, connector: string): Q {
  return query.where((eb) =>
    eb.not(
      eb.exists(
        eb
          .selectFrom('deliveries as earlier')
          .select(sql.lit(1).as('one'))
          .where('earlier.connector', '=', connector)
          .whereRef('earlier.ordering_key', '=', 'd.ordering_key')
          .whereRef('earlier.id', '<', 'd.id')
          .where('earlier.status', 'in', [
            sql.lit<DeliveryStatus>('pending'),
            sql.lit<DeliveryStatus>('leased'),
          ]),
      ),
    ),
  ) as Q;
}

/** Rows `d` that no longer wait for related deliveries of their event (see the note on waiting). */
export function notWaiting<Q extends SelectQueryBuilder<Tables & { d: Tables['deliveries'] }, 'd', object>>(
  query: Q,
  waitsFor: WaitsFor | undefined,
  now: number,
): Q {
  if (!waitsFor || waitsFor.connectors.length === 0) return query;
  return query.where((eb) =>
    eb.or([
      eb('d.created_at', '<=', now - waitsFor.timeoutMs),
      eb.not(
        eb.exists(
          eb
            .selectFrom('deliveries as awaited')
            .select(sql.lit(1).as('one'))
            .whereRef('awaited.event_id', '=', 'd.event_id')
            .where('awaited.connector', 'in', [...waitsFor.connectors])
            .where('awaited.status', 'in', [
              sql.lit<DeliveryStatus>('pending'),
              sql.lit<DeliveryStatus>('leased'),
            ]),
        ),
      ),
    ]),
  ) as Q;
}

/** Leases up to `limit` rows that `filter` selects among this connector's, skipping keys with an earlier open row. */
async function lease(
  db: Kysely<Tables>,
  options: { connector: string; owner: string; leaseMs: number; now: number; takeTurns: boolean },
  limit: number,
  filter: (query: Candidates) => Candidates,
): Promise<{ id: number }[]> {
  if (limit <= 0) return [];
  const { connector, owner, now } = options;
  let candidates = filter(
    notBehindAnOpenDelivery(
      db.selectFrom('deliveries as d').select('d.id').where('d.connector', '=', connector),
      connector,
    ),
  ).limit(limit);
  if (options.takeTurns) candidates = candidates.forUpdate().skipLocked();
  return (
    db
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
      .execute()
  );
}

async function withEvents(db: Kysely<Tables>, leased: Leased, now: number): Promise<ClaimedDelivery[]> {
  const { ids, takenOver } = leased;
  if (ids.length === 0) return [];
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
      // The event as an operator corrected it, when one did (migration 0003); else as it arrived.
      (eb) => eb.fn.coalesce('e.corrected_payload', 'e.payload').as('payload'),
      (eb) =>
        eb
          .selectFrom('attempts as a')
          .select((a) => a.fn.max(a(a.ref('a.started_at'), '+', a.ref('a.duration_ms'))).as('ended'))
          .whereRef('a.delivery_id', '=', 'd.id')
          .as('last_attempt_ended'),
    ])
    .where('d.id', 'in', ids)
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
    earlierAttemptsEndedBy: takenOver.has(Number(row.id))
      ? now
      : row.last_attempt_ended == null
        ? undefined
        : Number(row.last_attempt_ended),
  }));
}
