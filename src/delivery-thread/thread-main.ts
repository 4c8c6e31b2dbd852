import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type pino from 'pino';
import type { ConnectorEnvironment } from '../../connectors/types.ts';
import { ConfigError } from '../config/config-error.ts';
import { ConfigHolder } from '../config/config-holder.ts';
import { loadConfig } from '../config/load-config.ts';
import { closeConnectors, retireReplacedConnectors } from '../config/retire-connectors.ts';
import { openDatabase } from '../db/open-database.ts';
import { ServiceMetrics } from '../observability/metrics.ts';
import { opsAlertsFor, startDeliveryWorker } from '../outbox/start-delivery-worker.ts';
import { createLogger } from '../util/logger.ts';
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from './messages.ts';

/*
 * Runs inside the delivery thread of `serve` (src/delivery-thread/delivery-thread.ts
 * starts it): its own configuration holder, database connection (or pool),
 * metrics registry and ops alerts around the ordinary DeliveryWorker, so that
 * claims, the calls to destinations and the finishes — SQLite statements and
 * fsyncs included — never take time from the thread serving HTTP.
 *
 * It trusts the main thread for what the main thread already did: the
 * database is migrated, the configuration was valid a moment ago. Anything
 * thrown here ends the thread; the main thread logs it, releases the
 * thread's leases and starts a new one.
 */

const port = parentPort as MessagePort;
const data = workerData as DeliveryThreadData;
const post = (message: FromDeliveryThread) => port.postMessage(message);

// Lines go to the main thread, which writes them with its own: one writer on
// stdout, so lines of the two threads never tear each other.
const lines = { write: (line: string) => post({ type: 'log', line }) } as pino.DestinationStream;
const logger = createLogger({ level: data.logLevel, destination: lines }).child({ thread: 'delivery' });

let rateShare = () => 1;
const connectorEnvironment: ConnectorEnvironment = {
  now: Date.now,
  log: (level, message, fields) => logger[level](fields ?? {}, message),
  rateShare: () => rateShare(),
};
const load = () =>
  loadConfig(data.configFile, { ...(data.env ? { env: data.env } : {}), connectorEnvironment });

const config = new ConfigHolder(await load());
const store = await openDatabase(data.database.url, {
  durability: data.database.durability,
  busyTimeoutMs: data.database.busy_timeout,
  takesTurnsWith: data.writeTurns,
});
// Counts what happens here; the main thread adds these to its own at every scrape.
const metrics = new ServiceMetrics({ defaultMetrics: false });
const alerts = opsAlertsFor(config, { logger, metrics, pii: data.pii });
const delivery = await startDeliveryWorker({ store, config, logger, now: Date.now, metrics, alerts });
rateShare = delivery.rateShare;
const stopRetiring = retireReplacedConnectors(config, () => delivery.worker.settled(), logger);

let stopping = false;
let reloading: Promise<void> | undefined;
let reloadAgain = false;

/** The main thread accepted a change and logged it; here only a failure is news. */
async function reload(): Promise<void> {
  try {
    const next = await load();
    if (stopping) return;
    config.replace(next);
    // When deliveries start using it, which is a moment after the main thread's "configuration reloaded".
    logger.info(
      { connectors: [...next.connectors.keys()] },
      'delivery thread switched to the reloaded configuration',
    );
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    config.rejectChange(message);
    logger.error(
      { config: data.configFile, problems: message.split('\n') },
      'the delivery thread could not load the changed configuration; it keeps delivering with the last valid one',
    );
  }
}

function reloadSoon(): void {
  if (reloading) {
    reloadAgain = true;
    return;
  }
  reloading = reload().finally(() => {
    reloading = undefined;
    if (reloadAgain && !stopping) {
      reloadAgain = false;
      reloadSoon();
    }
  });
}

async function stop(timeoutMs: number): Promise<void> {
  stopping = true;
  await reloading;
  await delivery.stop(timeoutMs);
  stopRetiring();
  await closeConnectors([...config.current.connectors.values()], logger);
  await alerts.close();
  await store.close();
  post({ type: 'stopped' });
}

port.on('message', (message: ToDeliveryThread) => {
  switch (message.type) {
    case 'wake':
      delivery.worker.wake();
      break;
    case 'reload':
      if (!stopping) reloadSoon();
      break;
    case 'metrics':
      void metrics.registry
        .getMetricsAsJSON()
        .then((snapshot) => post({ type: 'metrics', id: message.id, metrics: snapshot }));
      break;
    case 'stop':
      // A failure to stop cleanly ends the thread with the error; the main thread logs it.
      void stop(message.timeoutMs);
      break;
  }
});
post({ type: 'ready', owner: delivery.worker.owner });
logger.info({ owner: delivery.worker.owner }, 'delivery thread started');
