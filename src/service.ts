import type { Connector, ConnectorEnvironment } from '../connectors/types.ts';
import { ConfigHolder } from './config/config-holder.ts';
import { watchConfig } from './config/config-watcher.ts';
import { type LoadedConfig, loadConfig } from './config/load-config.ts';
import type { Database } from './db/database.ts';
import { openStore } from './db/open-store.ts';
import { DriftWatch } from './drift/drift-watch.ts';
import { createApp } from './http/app.ts';
import { type RunningServer, startServer } from './http/server.ts';
import { OpsAlerts } from './observability/alerts.ts';
import { ServiceMetrics } from './observability/metrics.ts';
import { DeliveryWorker } from './outbox/delivery-worker.ts';
import { prune } from './outbox/prune.ts';
import { WorkerRegistry } from './outbox/worker-registry.ts';
import { createLogger, type Logger } from './util/logger.ts';

export interface ServiceOptions {
  /** A loaded configuration, or the path to load one from. */
  config: LoadedConfig | string;
  logger?: Logger;
  /** The clock for ingest timestamps and delivery scheduling. */
  now?: () => number;
  random?: () => number;
  /** The environment for `${VAR}` when (re)loading; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** Serve HTTP (default true). */
  http?: boolean;
  /** Run the delivery worker (default true). */
  worker?: boolean;
  /** Reload the configuration when its files change (default true). */
  watch?: boolean;
  /** Quiet time before a reload (default 250 ms). */
  reloadDebounceMs?: number;
  /** Process metrics (CPU, memory, event loop) in `/metrics` (default true). */
  defaultMetrics?: boolean;
}

export interface RunningService {
  /** Empty when HTTP is off. */
  url: string;
  port: number;
  config: ConfigHolder;
  store: Database;
  http: RunningServer | undefined;
  worker: DeliveryWorker | undefined;
  logger: Logger;
  metrics: ServiceMetrics;
  alerts: OpsAlerts;
  /** The drift watch, when HTTP is served and `drift_watch.enabled`. */
  drift: DriftWatch | undefined;
  /** Stops accepting, commits what was accepted, finishes or releases deliveries, closes the database. */
  stop(): Promise<void>;
}

/** The shortest admin token `serve` accepts. */
export const MIN_ADMIN_TOKEN_LENGTH = 20;

/**
 * Everything `leadrelay serve` (HTTP + worker) and `leadrelay worker` run,
 * assembled: database (migrated), the group-committing event writer, the
 * HTTP server, the delivery worker, retention and config reloading.
 *
 * @example
 * const service = await startService({ config: 'config/leadrelay.yaml' });
 * console.log(service.url);
 * await service.stop();
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger();
  // Connectors built at start and at every reload log through the service and
  // learn how many workers share each destination's rate limit (PostgreSQL).
  let workerRateShare = () => 1;
  const connectorEnvironment: ConnectorEnvironment = {
    now,
    log: (level, message, fields) => logger[level](fields ?? {}, message),
    rateShare: () => workerRateShare(),
  };
  const loaded =
    typeof options.config === 'string'
      ? await loadConfig(options.config, { env, connectorEnvironment })
      : options.config;
  const config = new ConfigHolder(loaded);
  const adminToken = loaded.env.LEADRELAY_ADMIN_TOKEN ?? env.LEADRELAY_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH)
    // Guessable from the public endpoint (logins are throttled, not impossible): refuse to start.
    throw new Error(
      `LEADRELAY_ADMIN_TOKEN is ${adminToken.length} characters; use at least ${MIN_ADMIN_TOKEN_LENGTH} random ones (e.g. \`openssl rand -hex 24\`), or unset it to turn /admin off`,
    );
  const { store } = await openStore(loaded.main.database);
  for (const [name, source] of Object.entries(loaded.main.sources)) {
    if (source.verify.scheme === 'none')
      logger.warn({ source: name }, 'source accepts unsigned requests (insecure)');
  }

  const metrics = new ServiceMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const pii = (env.LOG_PII ?? loaded.env.LOG_PII) === 'true';
  const alerts = new OpsAlerts({
    config: () => ({
      alerts: config.current.main.alerts,
      breakerAfterFailingFor: config.current.main.delivery.breaker.after_failing_for,
      connectors: config.current.connectors,
    }),
    logger,
    metrics,
    now,
    pii,
  });
  const worker =
    options.worker === false
      ? undefined
      : new DeliveryWorker({
          store,
          config,
          logger,
          now,
          ...(options.random ? { random: options.random } : {}),
          pollIntervalMs: loaded.main.delivery.poll_interval,
          metrics,
          alerts,
          rateShare: () => workerRateShare(),
        });
  if (worker) {
    // Heartbeats on either database: the leases of a worker that died are
    // taken over in seconds (docs/reliability.md), and several processes on
    // one database split rate limits between them (docs/scaling.md).
    const registry = new WorkerRegistry(store, worker.owner, {
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
    workerRateShare = () => registry.count;
    // Wake at once when another instance stores events.
    const stopListening = store.listenForWork?.(() => worker.wake(), logger);
    store.onClose(async () => {
      await stopListening?.();
      await registry.stop();
    });
  }
  worker?.start();
  const stopRetention = worker ? runRetention(store, config, logger, now) : () => {};

  let http: RunningServer | undefined;
  let drift: DriftWatch | undefined;
  const writer = store.eventWriter();
  if (options.http !== false) {
    const app = createApp({
      config,
      store,
      writer,
      logger,
      now,
      metrics,
      onStored: () => worker?.wake(),
      adminToken,
      wakeWorker: () => worker?.wake(),
    });
    http = await startServer(app, loaded);
    if (loaded.main.drift_watch.enabled) {
      drift = new DriftWatch({
        store,
        config,
        logger,
        intervalMs: loaded.main.drift_watch.interval,
        sinks: {
          alert: (info) => alerts.sourceDrift(info),
          gauge: (source, n) => metrics.sourceDrift(source, n),
        },
      });
      drift.start();
    }
    logger.info(
      { url: http.url, port: http.port, config: loaded.file, worker: Boolean(worker) },
      'listening',
    );
  } else {
    logger.info({ config: loaded.file, owner: worker?.owner }, 'worker started');
  }
  // Connectors a reload replaced are closed once no delivery uses them (their
  // clients and shared state, e.g. a Slack workspace's pacing, are released).
  const stopRetiring = config.onReplace((previous, next) => {
    const kept = new Set(next.connectors.values());
    const replaced = [...previous.connectors.values()].filter((connector) => !kept.has(connector));
    void (worker?.settled() ?? Promise.resolve()).then(() => closeConnectors(replaced, logger));
  });
  const stopWatching =
    options.watch === false
      ? () => {}
      : watchConfig(config, logger, {
          env,
          connectorEnvironment,
          ...(options.reloadDebounceMs ? { debounceMs: options.reloadDebounceMs } : {}),
        });

  return {
    url: http?.url ?? '',
    port: http?.port ?? 0,
    config,
    store,
    http,
    worker,
    logger,
    metrics,
    alerts,
    drift,
    async stop() {
      stopWatching();
      stopRetention();
      await drift?.stop();
      await http?.close();
      await writer.flush();
      await worker?.stop(config.current.main.delivery.shutdown_timeout);
      stopRetiring();
      await closeConnectors([...config.current.connectors.values()], logger);
      await alerts.close();
      await store.close();
    },
  };
}

async function closeConnectors(connectors: readonly Connector[], logger: Logger): Promise<void> {
  for (const connector of connectors) {
    try {
      await connector.close?.();
    } catch (error) {
      logger.warn({ err: error, connector: connector.name }, 'connector did not close cleanly');
    }
  }
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
