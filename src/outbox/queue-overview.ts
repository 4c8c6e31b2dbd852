import type { Kysely } from 'kysely';
import type { DeliveryStatus, Tables } from '../db/tables.ts';

/*
 * Design note. Two grouped aggregates — counts by (connector, status) and
 * the oldest unfinished row per connector — for the admin's queue view and
 * /metrics-style summaries. Both walk the deliveries table once; retention
 * (prune.ts) keeps that table to the retention window, so this stays cheap
 * without a counter table to keep consistent.
 */

export interface QueueOverview {
  /** Deliveries by connector, then status (every status present, zeros included). */
  byConnector: Record<string, Record<DeliveryStatus, number>>;
  totals: Record<DeliveryStatus, number>;
  /** Age of the oldest unfinished (pending or leased) delivery, null when there is none. */
  oldestPendingAgeMs: number | null;
  oldestPendingAgeMsByConnector: Record<string, number>;
}

const STATUSES: readonly DeliveryStatus[] = ['pending', 'leased', 'delivered', 'dead'];

function zeros(): Record<DeliveryStatus, number> {
  return { pending: 0, leased: 0, delivered: 0, dead: 0 };
}

/** Counts by connector and status, and how long the oldest unfinished delivery has waited. */
export async function queueOverview(db: Kysely<Tables>, now: number): Promise<QueueOverview> {
  const counts = await db
    .selectFrom('deliveries')
    .select(['connector', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['connector', 'status'])
    .execute();
  const oldest = await db
    .selectFrom('deliveries')
    .select(['connector', (eb) => eb.fn.min<number>('created_at').as('oldest')])
    .where('status', 'in', ['pending', 'leased'])
    .groupBy('connector')
    .execute();
  const byConnector: Record<string, Record<DeliveryStatus, number>> = {};
  const totals = zeros();
  for (const row of counts) {
    if (!STATUSES.includes(row.status)) continue;
    byConnector[row.connector] ??= zeros();
    byConnector[row.connector]![row.status] += Number(row.n);
    totals[row.status] += Number(row.n);
  }
  const oldestPendingAgeMsByConnector: Record<string, number> = {};
  let oldestPendingAgeMs: number | null = null;
  for (const row of oldest) {
    const age = Math.max(0, now - Number(row.oldest));
    oldestPendingAgeMsByConnector[row.connector] = age;
    oldestPendingAgeMs = Math.max(oldestPendingAgeMs ?? 0, age);
  }
  return { byConnector, totals, oldestPendingAgeMs, oldestPendingAgeMsByConnector };
}
