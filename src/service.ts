import type { ConnectorEnvironment } from '../connectors/types.ts';
import { ConfigHolder } from './config/config-holder.ts';
import { watchConfig } from './config/config-watcher.ts';
import { type LoadedConfig, loadConfig } from './config/load-config.ts';
import { closeConnectors, retireReplacedConnectors } from './config/retire-connectors.ts';
import type { Database } from './db/database.ts';
import { openStore } from './db/open-store.ts';
import { DeliveryThread } from './delivery-thread/delivery-thread.ts';
import { DriftWatch } from './drift/drift-watch.ts';
import { createApp } from './http/app.ts';
import { type RunningServer, startServer } from './http/server.ts';
import type { OpsAlerts } from './observability/alerts.ts';
import { ServiceMetrics } from './observability/metrics.ts';
import type { DeliveryWorker } from './outbox/delivery-worker.ts';
import {
  opsAlertsFor,
  type RunningDeliveryWorker,
  startDeliveryWorker,
} from './outbox/start-delivery-worker.ts';
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
  /**
   * Where the delivery worker runs (default `'main'`). `'main'`: on the
   * calling thread, as `leadrelay worker` and most tests run it
   * (`RunningService.worker`). `'thread'`: in a worker thread of this
   * process with its own database connection, what `serve` runs
   * (`RunningService.deliveryThread`), so delivery never takes time from
   * the HTTP thread; the thread loads the configuration from its file and
   * uses the real clock, so `now` and `random` cannot be given with it.
   */
  workerIn?: 'main' | 'thread';
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
  /** The delivery worker, when it runs on this thread (`workerIn: 'main'`). */
  worker: DeliveryWorker | undefined;
  /** The delivery thread, when the worker runs in one (`workerIn: 'thread'`). */
  deliveryThread: DeliveryThread | undefined;
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
  const inThread = options.worker !== false && options.workerIn === 'thread';
  if (inThread && (options.now || options.random))
    throw new Error(
      "startService: workerIn: 'thread' runs the worker on the real clock; leave out now and random, or use workerIn: 'main'",
    );
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
  const alerts = opsAlertsFor(config, { logger, metrics, now, pii });
  let delivery: RunningDeliveryWorker | undefined;
  let deliveryThread: DeliveryThread | undefined;
  if (inThread) {
    deliveryThread = new DeliveryThread({
      configFile: loaded.file,
      env: options.env,
      database: loaded.main.database,
      writeTurns: store.writeTurns,
      pii,
      logger,
      store,
      metrics,
    });
    const thread = deliveryThread;
    metrics.relay(() => thread.metrics());
  } else if (options.worker !== false) {
    delivery = await startDeliveryWorker({
      store,
      config,
      logger,
      now,
      random: options.random,
      metrics,
      alerts,
    });
    workerRateShare = delivery.rateShare;
  }
  const worker = delivery?.worker;
  const wakeWorker = () => (deliveryThread ?? worker)?.wake();

  let http: RunningServer | undefined;
  let drift: DriftWatch | undefined;
  let ready = { msg: 'worker started', fields: { config: loaded.file, owner: worker?.owner } as object };
  const writer = store.eventWriter();
  if (options.http !== false) {
    const app = createApp({
      config,
      store,
      writer,
      logger,
      now,
      metrics,
      onStored: wakeWorker,
      adminToken,
      wakeWorker,
    });
    http = await startServer(app, loaded);
    // Started once the port is ours; it claims what is due as it starts, so
    // nothing stored before then waits for a wake.
    deliveryThread?.start();
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
    // What was bound, not `url` (a loopback address for tools on this host when
    // the bind is every interface: 0.0.0.0 or ::).
    const bound = http.server.address();
    const address = typeof bound === 'object' && bound ? bound.address : String(bound);
    ready = {
      msg: 'listening',
      fields: {
        address,
        ...(address === '0.0.0.0' || address === '::' ? { interfaces: 'all' } : {}),
        port: http.port,
        url: http.url,
        config: loaded.file,
        worker: Boolean(worker ?? deliveryThread),
        ...(deliveryThread ? { worker_in: 'thread' } : {}),
      },
    };
  } else {
    deliveryThread?.start();
  }
  // Connectors a reload replaced are closed once no delivery uses them (their
  // clients and shared state, e.g. a Slack workspace's pacing, are released).
  // The delivery thread retires its own copies.
  const stopRetiring = retireReplacedConnectors(config, () => worker?.settled() ?? Promise.resolve(), logger);
  const stopReloadingThread = deliveryThread ? config.onReplace(() => deliveryThread.reload()) : () => {};
  const stopWatching =
    options.watch === false
      ? () => {}
      : watchConfig(config, logger, {
          env,
          connectorEnvironment,
          ...(options.reloadDebounceMs ? { debounceMs: options.reloadDebounceMs } : {}),
        });
  // Last, once everything is in place: whoever waits for this line (a supervisor,
  // a test) may change the configuration at once, and the change must be seen.
  logger.info(ready.fields, ready.msg);

  return {
    url: http?.url ?? '',
    port: http?.port ?? 0,
    config,
    store,
    http,
    worker,
    deliveryThread,
    logger,
    metrics,
    alerts,
    drift,
    async stop() {
      stopWatching();
      stopReloadingThread();
      await drift?.stop();
      await http?.close();
      await writer.flush();
      const { shutdown_timeout } = config.current.main.delivery;
      await delivery?.stop(shutdown_timeout);
      await deliveryThread?.stop(shutdown_timeout);
      stopRetiring();
      await closeConnectors([...config.current.connectors.values()], logger);
      await alerts.close();
      await store.close();
    },
  };
}
