import { type Kysely, sql } from 'kysely';
import { AggregatorRegistry, Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Tables } from '../db/tables.ts';

/** How an accepted or refused webhook is counted: `accepted`, `duplicate`, or the rejection's error code. */
export type EventOutcome = string;

export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

/** A registry's metrics as data (`registry.getMetricsAsJSON()`), as another thread sends them. */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * The Prometheus metrics of one running service (SPEC §2 `GET /metrics`).
 * Each service has its own {@link Registry}, never prom-client's global one,
 * so several services in one process (tests) do not share counters.
 *
 * Counters and the latency histogram count what this process did; queue
 * gauges are read from the database at scrape time, so they show the whole
 * queue whichever process scrapes.
 *
 * @example
 * const metrics = new ServiceMetrics();
 * metrics.eventReceived('website-bot', 'lead.qualified', 'accepted');
 * const text = await metrics.render(store.db, ['hubspot'], Date.now());
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly events: Counter<'source' | 'type' | 'outcome'>;
  private readonly deliveries: Counter<'connector' | 'status'>;
  private readonly latency: Histogram<'connector'>;
  private readonly queueDepth: Gauge<'connector' | 'status'>;
  private readonly oldestPending: Gauge<'connector'>;
  private readonly breakerOpen: Gauge<'connector'>;
  private readonly alerts: Counter<'connector' | 'kind' | 'result'>;
  private readonly driftWarnings: Gauge<'source'>;
  private readonly inflight: Gauge;
  private readonly buffered: Gauge;
  private readonly threadRestarts: Counter;
  private readonly relayed: (() => Promise<MetricsSnapshot | undefined>)[] = [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.events = new Counter({
      name: 'leadrelay_events_received_total',
      help: 'Webhooks received, by source, event type and outcome (accepted, duplicate, or the rejection code)',
      labelNames: ['source', 'type', 'outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'leadrelay_deliveries_total',
      help: 'Finished delivery attempts by connector and outcome (delivered, retry, dead)',
      labelNames: ['connector', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'leadrelay_delivery_attempt_duration_seconds',
      help: 'Duration of delivery attempts (the call to the destination), by connector',
      labelNames: ['connector'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'leadrelay_queue_depth',
      help: 'Deliveries waiting (pending) or being performed (leased), by connector; read from the database',
      labelNames: ['connector', 'status'],
      registers,
    });
    this.oldestPending = new Gauge({
      name: 'leadrelay_queue_oldest_pending_age_seconds',
      help: 'Age of the oldest unfinished (pending or leased) delivery, by connector; 0 when none',
      labelNames: ['connector'],
      registers,
    });
    this.breakerOpen = new Gauge({
      name: 'leadrelay_connector_breaker_open',
      help: '1 while the circuit breaker of this process holds back deliveries to the connector',
      labelNames: ['connector'],
      registers,
    });
    this.alerts = new Counter({
      name: 'leadrelay_alerts_total',
      help: 'Ops alerts by connector they are about, kind (dead, failing) and result (sent, suppressed, failed)',
      labelNames: ['connector', 'kind', 'result'],
      registers,
    });
    this.inflight = new Gauge({
      name: 'leadrelay_http_requests_in_flight',
      help: 'Requests whose body is being received or handled now (bounded by server.max_inflight)',
      registers,
    });
    this.buffered = new Gauge({
      name: 'leadrelay_http_request_bodies_buffered_bytes',
      help: 'Bytes of request bodies held in memory now, reserved before reading (bounded by server.max_buffered)',
      registers,
    });
    this.driftWarnings = new Gauge({
      name: 'leadrelay_source_drift_warnings',
      help: "Drift warnings of the source's recent payloads now (a mapped field stopped arriving, a new kind of event, the ignored share jumped); see `leadrelay sources`",
      labelNames: ['source'],
      registers,
    });
    this.threadRestarts = new Counter({
      name: 'leadrelay_delivery_thread_restarts_total',
      help: 'Times the delivery thread of `serve` ended unexpectedly and was started again (the log says why)',
      registers,
    });
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'leadrelay_' });
  }

  eventReceived(source: string, type: string, outcome: EventOutcome): void {
    this.events.inc({ source, type, outcome });
  }

  attemptFinished(connector: string, outcome: AttemptOutcome, durationMs: number): void {
    this.deliveries.inc({ connector, status: outcome });
    this.latency.observe({ connector }, durationMs / 1000);
  }

  breaker(connector: string, open: boolean): void {
    this.breakerOpen.set({ connector }, open ? 1 : 0);
  }

  /** What the HTTP reception holds at scrape time. */
  receptionLoad(load: { inflight: number; buffered: number }): void {
    this.inflight.set(load.inflight);
    this.buffered.set(load.buffered);
  }

  sourceDrift(source: string, warnings: number): void {
    this.driftWarnings.set({ source }, warnings);
  }

  alert(connector: string, kind: string, result: 'sent' | 'suppressed' | 'failed'): void {
    this.alerts.inc({ connector, kind, result });
  }

  deliveryThreadRestarted(): void {
    this.threadRestarts.inc();
  }

  /**
   * Adds the metrics of another registry — the delivery thread's, which
   * counts attempts and alerts where they happen — to every render: samples
   * with the same name and labels are summed, the rest listed as they are.
   * `read` resolves to undefined when it has nothing to add.
   *
   * @example
   * metrics.relay(() => thread.metrics());
   */
  relay(read: () => Promise<MetricsSnapshot | undefined>): void {
    this.relayed.push(read);
  }

  /** The exposition text, after reading the queue gauges from the database. */
  async render(db: Kysely<Tables>, connectors: readonly string[], now: number): Promise<string> {
    const queue = await readQueue(db);
    this.queueDepth.reset();
    this.oldestPending.reset();
    const names = new Set([...connectors, ...queue.map((row) => row.connector)]);
    for (const connector of names) {
      this.queueDepth.set({ connector, status: 'pending' }, 0);
      this.queueDepth.set({ connector, status: 'leased' }, 0);
      this.oldestPending.set({ connector }, 0);
    }
    const oldest = new Map<string, number>();
    for (const row of queue) {
      this.queueDepth.set({ connector: row.connector, status: row.status }, row.count);
      const previous = oldest.get(row.connector);
      if (previous === undefined || row.oldest < previous) oldest.set(row.connector, row.oldest);
    }
    for (const [connector, createdAt] of oldest)
      this.oldestPending.set({ connector }, Math.max(0, (now - createdAt) / 1000));
    if (this.relayed.length === 0) return this.registry.metrics();
    const others = (await Promise.all(this.relayed.map((read) => read()))).filter((m) => m !== undefined);
    const all = [await this.registry.getMetricsAsJSON(), ...others].map((metrics) =>
      // Summed, whatever the family's own aggregator: each thread counts its own
      // events, and a family only one thread fills (process metrics, whose
      // start time prom-client would otherwise omit) comes out as it is.
      metrics.map((metric) => ({ ...metric, aggregator: 'sum' as const })),
    );
    return AggregatorRegistry.aggregate(all).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

interface QueueRow {
  connector: string;
  status: 'pending' | 'leased';
  count: number;
  oldest: number;
}

/**
 * One grouped count per unfinished status. The statuses are SQL literals so
 * that SQLite walks the partial indexes (`deliveries_due`, `deliveries_lease`,
 * both leading with the connector) and never touches finished rows.
 */
async function readQueue(db: Kysely<Tables>): Promise<QueueRow[]> {
  const rows: QueueRow[] = [];
  for (const status of ['pending', 'leased'] as const) {
    const found = await db
      .selectFrom('deliveries')
      .select((eb) => [
        'connector',
        eb.fn.countAll<number>().as('count'),
        eb.fn.min<number>('created_at').as('oldest'),
      ])
      .where('status', '=', sql.lit(status))
      .groupBy('connector')
      .execute();
    for (const row of found)
      rows.push({ connector: row.connector, status, count: Number(row.count), oldest: Number(row.oldest) });
  }
  return rows;
}
