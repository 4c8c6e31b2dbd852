import type { ConfigHolder } from '../config/config-holder.ts';
import type { Database } from '../db/database.ts';
import { type DeliveryAlerts, OpsAlerts } from '../observability/alerts.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { Logger } from '../util/logger.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { prune } from './prune.ts';
import { WorkerRegistry } from './worker-registry.ts';

/**
 * Ops alerts that follow the configuration as it is reloaded: the same
 * wiring for `serve`'s delivery thread, its HTTP thread and `leadrelay worker`
 * (observability itself never reads a configuration holder).
 *
 * @example
 * const alerts = opsAlertsFor(config, { logger, metrics, pii: false });
 */
export function opsAlertsFor(
  config: ConfigHolder,
  options: { logger: Logger; metrics: ServiceMetrics; pii: boolean; now?: () => number },
): OpsAlerts {
  return new OpsAlerts({
    config: () => ({
      alerts: config.current.main.alerts,
      breakerAfterFailingFor: config.current.main.delivery.breaker.after_failing_for,
      connectors: config.current.connectors,
    }),
    ...options,
  });
}

export interface DeliveryWorkerSetup {
  store: Database;
  config: ConfigHolder;
  logger: Logger;
  now: () => number;
  random?: (() => number) | undefined;
  metrics: ServiceMetrics;
  alerts: DeliveryAlerts;
}

export interface RunningDeliveryWorker {
  worker: DeliveryWorker;
  /** Workers alive on this database lately (heartbeats), this one included: how rate limits are split. */
  rateShare(): number;
  /**
   * Stops retention and claiming, lets in-flight deliveries finish for up to
   * `timeoutMs`, gives back what is still leased, stops listening and
   * deletes this worker's heartbeat. The store stays open.
   */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * The delivery worker with what runs beside it wherever it runs (the
 * thread of `serve`, the process of `leadrelay worker`, or a test's own
 * thread): heartbeats, wake-ups from other processes, and retention.
 *
 * @example
 * const delivery = await startDeliveryWorker({ store, config, logger, now: Date.now, metrics, alerts });
 * delivery.worker.wake();
 * await delivery.stop(10_000);
 */
export async function startDeliveryWorker(setup: DeliveryWorkerSetup): Promise<RunningDeliveryWorker> {
  const { store, config, logger, now } = setup;
  let registry: WorkerRegistry | undefined;
  const worker = new DeliveryWorker({
    store,
    config,
    logger,
    now,
    ...(setup.random ? { random: setup.random } : {}),
    pollIntervalMs: config.current.main.delivery.poll_interval,
    metrics: setup.metrics,
    alerts: setup.alerts,
    rateShare: () => registry?.count ?? 1,
  });
  // Heartbeats on either database: the leases of a worker that died are
  // taken over in seconds (docs/reliability.md), and several processes on
  // one database split rate limits between them (docs/scaling.md).
  registry = new WorkerRegistry(store, worker.owner, {
    now,
    onBeatFailed: (error) =>
      logger.warn(
        { err: error },
        'could not write this worker’s heartbeat; after 8 s without one, others take over its deliveries',
      ),
    onOrphans: (count) => {
      logger.warn({ deliveries: count }, 'taking over deliveries of a worker that stopped (no heartbeat)');
      worker.wake();
    },
  });
  await registry.start();
  // Wake at once when another process (or thread) stores events.
  const stopListening = store.listenForWork?.(() => worker.wake(), logger);
  worker.start();
  const stopRetention = runRetention(store, config, logger, now);
  const beating = registry;
  return {
    worker,
    rateShare: () => beating.count,
    async stop(timeoutMs) {
      stopRetention();
      await worker.stop(timeoutMs);
      await stopListening?.();
      await beating.stop();
    },
  };
}

/** Prunes old rows once a minute (and shortly after start), never overlapping itself. */
function runRetention(store: Database, config: ConfigHolder, logger: Logger, now: () => number): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const { retention } = config.current.main.delivery;
      const pruned = await prune(store.db, {
        now: now(),
        deliveredMs: retention.delivered,
        eventsMs: retention.events,
        deadMs: retention.dead,
      });
      if (pruned.deliveries + pruned.events > 0) logger.info(pruned, 'pruned old rows');
    } catch (error) {
      logger.error({ err: error }, 'retention failed; will try again');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(tick, 5_000);
  const every = setInterval(tick, 60_000);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
