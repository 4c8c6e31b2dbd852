import { hostname } from 'node:os';
import { DeliveryError } from '../../connectors/errors.ts';
import type { Connector, DeliveryContext, DeliveryResult } from '../../connectors/types.ts';
import type { ConfigHolder } from '../config/config-holder.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { Database } from '../db/database.ts';
import { GroupCommit } from '../db/group-commit.ts';
import { identifiersOf } from '../identity/identifiers.ts';
import { lookupIdentities } from '../identity/lookup-identities.ts';
import type { DeliveryAlerts } from '../observability/alerts.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import { newId } from '../util/ids.ts';
import type { Logger } from '../util/logger.ts';
import { shareRate } from '../util/rate-limiter.ts';

export { shareRate };

import { type ClaimedDelivery, claimDeliveries } from './claim-deliveries.ts';
import { ConnectorCapacity } from './connector-capacity.ts';
import { type FinishItem, finishDeliveries, releaseLeases } from './finish-delivery.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { nextDueAt } from './next-due.ts';
import { type MadeRequest, recordingRequests, summarizeRequests } from './record-requests.ts';
import { buryOrphans, relatedDeliveries } from './related-results.ts';
import { OutcomeReporter } from './report-outcome.ts';

export interface WorkerOptions {
  store: Database;
  config: ConfigHolder;
  logger: Logger;
  /** The clock for scheduling and leases; injectable so tests can move time. */
  now?: () => number;
  random?: () => number;
  /** Fallback poll: picks up work from other processes and retries coming due. */
  pollIntervalMs?: number;
  /** This worker's name in `lease_owner`. */
  owner?: string;
  /** Counts finished attempts for `/metrics`. */
  metrics?: ServiceMetrics | undefined;
  /** Told about dead deliveries and connectors that keep failing (ops alerts). */
  alerts?: DeliveryAlerts | undefined;
  /** How many workers share each connector's rate limit (default 1); see docs/scaling.md. */
  rateShare?: () => number;
}

/**
 * Turns outbox rows into deliveries (SPEC §5). Claims due rows per connector
 * under a lease, as many as the connector's free concurrency and rate budget
 * allow, performs them through the connector, and records each attempt.
 *
 * Woken at once by ingest (`wake`), so an accepted event starts delivering
 * without a polling delay; the poll is the fallback for retries and for rows
 * written by other processes.
 */
export class DeliveryWorker {
  readonly owner: string;
  private readonly now: () => number;
  private readonly capacity: ConnectorCapacity;
  private readonly reporter: OutcomeReporter;
  private readonly running = new Set<Promise<void>>();
  private pumping = false;
  /** The pump in progress, if any: it may still start deliveries with the configuration it read. */
  private pumpRun: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeQueued = false;
  private lastConfig: LoadedConfig | undefined;
  /**
   * Outcomes of deliveries that end in the same turn of the event loop are
   * recorded in one transaction: on SQLite each commit is an fsync on this
   * thread, and one per delivery cost more than a fast receiver's answer.
   */
  private readonly finisher: GroupCommit<FinishItem, boolean>;
  private readonly leases: LeaseKeeper;

  constructor(private readonly options: WorkerOptions) {
    this.now = options.now ?? Date.now;
    this.capacity = new ConnectorCapacity(this.now, options.rateShare);
    this.reporter = new OutcomeReporter({
      logger: options.logger,
      metrics: options.metrics,
      alerts: options.alerts,
      capacity: this.capacity,
      now: this.now,
      random: options.random ?? Math.random,
    });
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${newId('w').slice(-6)}`;
    this.finisher = new GroupCommit((items) =>
      finishDeliveries(this.options.store.db, { owner: this.owner, now: this.now(), items }),
    );
    this.leases = new LeaseKeeper({
      db: options.store.db,
      owner: this.owner,
      logger: options.logger,
      now: this.now,
      leaseMs: () => options.config.current.main.delivery.lease,
    });
  }

  start(): void {
    this.wake();
  }

  /** Look for due work now (called after an event is stored, or a delivery finished). */
  wake(): void {
    if (this.stopping) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pumpRun = this.pump();
  }

  /**
   * Resolves once every delivery started so far has finished, including any
   * a claim in progress is about to start: after that, connectors of an
   * earlier configuration are no longer in use and can be closed.
   */
  async settled(): Promise<void> {
    await this.pumpRun;
    await Promise.allSettled([...this.running]);
  }

  /**
   * A wake after the deliveries finishing in this turn have all given back
   * their slots, so one claim refills them together instead of one each.
   */
  private wakeSoon(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.wake();
    });
  }

  /** Deliveries being performed right now. */
  get inflight(): number {
    return this.capacity.inflight;
  }

  /**
   * Stops claiming, lets in-flight deliveries finish for up to `timeoutMs`,
   * then gives back whatever is still leased so another worker can take it.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), deadline]);
    await this.leases.stop();
    const released = await releaseLeases(this.options.store.db, this.owner, this.now());
    if (released > 0) this.options.logger.warn({ released }, 'released unfinished deliveries at shutdown');
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      const config = this.options.config.current;
      if (config !== this.lastConfig) {
        this.lastConfig = config;
        const buried = await buryOrphans(this.options.store.db, [...config.connectors.keys()], this.now());
        if (buried > 0)
          this.options.logger.warn({ buried }, 'deliveries to connectors no longer configured are dead');
      }
      for (const connector of config.connectors.values()) {
        if (this.stopping) break;
        if (await this.claimFor(config, connector)) this.again = true;
      }
    } catch (error) {
      this.options.logger.error({ err: error }, 'delivery worker could not claim work; will retry');
    } finally {
      this.pumping = false;
      if (!this.stopping) {
        if (this.again) {
          this.again = false;
          setImmediate(() => this.wake());
        } else {
          await this.scheduleNext();
        }
      }
    }
  }

  /** Claims and starts what this connector can take now; true when more may be waiting. */
  private async claimFor(config: LoadedConfig, connector: Connector): Promise<boolean> {
    const { calls, batchSize, probe } = this.capacity.grant(connector);
    if (calls <= 0) return false;
    const limit = calls * batchSize;
    const rows = await claimDeliveries(this.options.store.db, {
      connector: connector.name,
      limit,
      owner: this.owner,
      leaseMs: config.main.delivery.lease,
      now: this.now(),
      takeTurns: this.options.store.adapter.claimsTakeTurns,
      inFlight: this.leases.heldFor(connector.name),
      waitsFor: connector.waitsFor,
    });
    this.leases.hold(
      connector.name,
      rows.map((row) => row.id),
    );
    const slots = this.capacity.of(connector);
    if (probe && rows.length > 0) {
      slots.health.probeStarted(this.now(), config.main.delivery.breaker.probe_interval);
      this.reporter.probing(connector, rows[0]!);
    }
    for (let i = 0; i < rows.length; i += batchSize) {
      const group = rows.slice(i, i + batchSize);
      slots.limiter.take(1);
      slots.inflight++;
      const run = this.perform(config, connector, group)
        // A bug here must not end the worker (or serve's delivery thread): the leases run
        // out and the rows are claimed again.
        .catch((error: unknown) =>
          this.options.logger.error(
            { err: error, deliveries: group.map((row) => row.id) },
            'could not perform deliveries',
          ),
        )
        .finally(() => {
          this.leases.release(group.map((row) => row.id));
          slots.inflight--;
          this.running.delete(run);
          this.wakeSoon();
        });
      this.running.add(run);
    }
    return !probe && rows.length === limit;
  }

  private async perform(config: LoadedConfig, connector: Connector, rows: ClaimedDelivery[]): Promise<void> {
    const ready: { row: ClaimedDelivery; context: DeliveryContext }[] = [];
    try {
      for (const row of rows) ready.push({ row, context: await this.contextFor(connector, row) });
    } catch (error) {
      // The database failed while the context was read (the identity map, related results):
      // nothing was sent, so the rows wait like a retry without using one up.
      const notSent = new DeliveryError(`could not prepare the delivery: ${(error as Error).message}`, {
        retryable: true,
        notSent: true,
      });
      await this.finish(
        rows.map((row) =>
          this.reporter.report(config, connector, row, notSent, {
            startedAt: this.now(),
            durationMs: 0,
            requestSummary: 'nothing sent',
          }),
        ),
      );
      return;
    }

    const startedAt = this.now();
    const started = performance.now();
    const made: MadeRequest[] = [];
    let outcomes: (DeliveryResult | unknown)[];
    try {
      outcomes = await recordingRequests(made, async () =>
        ready.length > 1 && connector.deliverBatch
          ? await connector.deliverBatch(ready.map((entry) => entry.context))
          : [await connector.deliver(ready[0]!.context)],
      );
    } catch (error) {
      outcomes = ready.map(() => error);
    }
    const durationMs = performance.now() - started;
    const requestSummary = summarizeRequests(made, ready.length);
    await this.finish(
      ready.map((entry, i) => {
        const item = this.reporter.report(config, connector, entry.row, outcomes[i], {
          startedAt,
          durationMs,
          requestSummary,
        });
        const identity = (outcomes[i] as DeliveryResult | undefined)?.identity;
        if (item.finish.status !== 'delivered' || !identity || !entry.context.identifiers) return item;
        return {
          ...item,
          identity: {
            connector: connector.name,
            identifiers: identity.identifiers ?? entry.context.identifiers,
            record: identity.record,
            eventId: entry.row.eventId,
            ...(identity.replaces ? { replaces: [identity.replaces].flat() } : {}),
          },
        };
      }),
    );
  }

  /**
   * The context for one row, with the results of the connectors it takes
   * results from (e.g. a Slack alert linking to the CRM record). The claim
   * held the row back while those were unfinished, up to `waitsFor.timeoutMs`
   * (claim-deliveries.ts); past that it goes out without them rather than late.
   */
  private async contextFor(connector: Connector, row: ClaimedDelivery): Promise<DeliveryContext> {
    const related: Record<string, Record<string, unknown> | undefined> = {};
    const relatedStatus: Record<string, string> = {};
    const awaited = connector.waitsFor?.connectors ?? [];
    if (awaited.length > 0) {
      for (const [name, delivery] of await relatedDeliveries(this.options.store.db, row.eventId, awaited)) {
        related[name] = delivery.status === 'delivered' ? delivery.result : undefined;
        relatedStatus[name] = delivery.status;
      }
    }
    const identifiers = connector.remembers ? identifiersOf(row.source, row.event) : undefined;
    const known = identifiers
      ? await lookupIdentities(this.options.store.db, connector.name, identifiers)
      : undefined;
    return {
      ...(identifiers ? { identifiers, known } : {}),
      event: row.event,
      eventId: row.eventId,
      deliveryId: row.id,
      source: row.source,
      receivedAt: row.receivedAt,
      // An operator's retry of a dead delivery starts its schedule again (attempts from 0),
      // but its earlier attempts may have written: connectors check before redoing when
      // attempt > 1, so any recorded attempt (or a dead worker's) makes this at least the second.
      attempt: row.earlierAttemptsEndedBy === undefined ? row.attempts : Math.max(row.attempts, 2),
      earlierAttemptsEndedBy: row.earlierAttemptsEndedBy,
      related,
      relatedStatus,
    };
  }

  private async finish(items: FinishItem[]): Promise<void> {
    try {
      const updated = await Promise.all(items.map((item) => this.finisher.submit(item)));
      updated.forEach((ok, index) => {
        if (!ok)
          this.options.logger.warn(
            { delivery_id: items[index]!.id },
            'lease was lost before the delivery finished',
          );
      });
    } catch (error) {
      // The leases run out and the rows are claimed again: at least once, never lost.
      this.options.logger.error(
        { err: error, deliveries: items.map((item) => item.id) },
        'could not record delivery outcomes',
      );
    }
  }

  private async scheduleNext(): Promise<void> {
    if (this.stopping) return;
    // Capacity first: a breaker's next probe, a rate budget's next free slot.
    let { delay, held } = this.capacity.nextLook(this.options.pollIntervalMs ?? 1000);
    try {
      // Connectors held back by their breaker wake the worker for their next probe, not for due rows.
      const connectors = [...this.options.config.current.connectors.values()]
        .filter((connector) => !held.has(connector.name))
        .map((connector) => ({ name: connector.name, waitsFor: connector.waitsFor }));
      const due = await nextDueAt(this.options.store.db, connectors, this.now());
      if (due !== undefined) delay = Math.min(delay, Math.max(0, due - this.now()));
    } catch {
      // The poll will look again.
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), Math.max(delay, 1));
  }
}
