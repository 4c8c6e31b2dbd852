import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import type { Database } from '../db/database.ts';
import { DELIVERY, WriteTurns } from '../db/sqlite/write-turns.ts';
import type { MetricsSnapshot, ServiceMetrics } from '../observability/metrics.ts';
import { expireLeasesOf } from '../outbox/expire-orphaned-leases.ts';
import type { Logger } from '../util/logger.ts';
import { startThread } from '../util/start-thread.ts';
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from './messages.ts';

export interface DeliveryThreadOptions extends Omit<DeliveryThreadData, 'logLevel'> {
  logger: Logger;
  /** The main thread's store: the leases of a thread that died are released through it. */
  store: Database;
  /** Counts restarts; `/metrics` adds the thread's own registry to it. */
  metrics: ServiceMetrics;
  /** How long `/metrics` waits for the thread's figures before using the last ones (default 2 s). */
  metricsTimeoutMs?: number;
}

/** The first restart waits this long; each quick failure doubles it. */
const FIRST_RESTART_MS = 1_000;
const LONGEST_RESTART_MS = 60_000;
/** A thread that lived this long before failing restarts after the shortest wait again. */
const HEALTHY_AFTER_MS = 60_000;
/** Beyond the shutdown timeout: closing connectors (up to 5 s for ops alerts) and the database. */
const STOP_GRACE_MS = 15_000;

/**
 * The main thread's handle on the delivery thread of `serve`: the
 * DeliveryWorker runs in a worker thread of this process, with its own
 * database connection, so that its claims, finishes, fsyncs and calls to
 * destinations never hold up the thread serving HTTP. Being a thread, it
 * dies with the process (a SIGKILL ends both).
 *
 * Across the boundary: `wake` after a commit (at most one message per turn
 * of the event loop), `reload` after the main thread accepted a changed
 * configuration, the thread's metrics on request, its log lines (written
 * by the main thread's logger), and `stop`. If the thread dies, the error
 * is logged, its leased deliveries are put back in the queue at once and a
 * new thread starts after 1 s, doubling up to 60 s while it keeps failing;
 * `leadrelay_delivery_thread_restarts_total` counts the restarts.
 *
 * @example
 * const thread = new DeliveryThread({ configFile, env: undefined, database, pii: false, logger, store, metrics });
 * thread.start();
 * thread.wake();
 * await thread.stop(10_000);
 */
export class DeliveryThread {
  private thread: Worker | undefined;
  /** The thread's name in `lease_owner` once it is delivering (a new one after each restart). */
  private owner: string | undefined;
  private startedAt = 0;
  private restartDelayMs = FIRST_RESTART_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopped: (() => void) | undefined;
  private wakePosted = false;
  private nextRequest = 1;
  private readonly waiting = new Map<number, (metrics: MetricsSnapshot | undefined) => void>();
  private lastMetrics: MetricsSnapshot | undefined;

  constructor(private readonly options: DeliveryThreadOptions) {}

  start(): void {
    const { logger, store: _store, metrics: _metrics, metricsTimeoutMs: _timeout, ...data } = this.options;
    const workerData: DeliveryThreadData = { ...data, logLevel: logger.level };
    const thread = startThread(import.meta.url, './thread-main', { ...workerData }, { name: 'delivery' });
    // Never the reason the process stays up: `stop` ends it, and a SIGKILL ends both.
    thread.unref();
    this.thread = thread;
    this.owner = undefined;
    this.startedAt = Date.now();
    thread.on('message', (message: FromDeliveryThread) => this.receive(message));
    thread.on('error', (error) => logger.error({ err: error }, 'the delivery thread failed'));
    thread.on('exit', (code) => this.exited(thread, code));
  }

  /** Asks the thread to claim now; repeated calls in one turn of the event loop post one message. */
  wake(): void {
    if (this.wakePosted || !this.thread) return;
    this.wakePosted = true;
    this.post({ type: 'wake' });
    setImmediate(() => {
      this.wakePosted = false;
    });
  }

  /** The main thread accepted a changed configuration: the thread loads it too. */
  reload(): void {
    this.post({ type: 'reload' });
  }

  /**
   * The thread's metrics, or the last ones it sent when it does not answer
   * within the timeout (its event loop busy, or it is restarting).
   */
  metrics(): Promise<MetricsSnapshot | undefined> {
    const thread = this.thread;
    if (!thread) return Promise.resolve(this.lastMetrics);
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(this.lastMetrics);
      }, this.options.metricsTimeoutMs ?? 2_000);
      this.waiting.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      thread.postMessage({ type: 'metrics', id } satisfies ToDeliveryThread);
    });
  }

  /**
   * Stops the thread as `DeliveryWorker.stop` stops a worker: no new claims,
   * in-flight deliveries finish within `timeoutMs`, the rest are released;
   * then its connectors and database are closed and the thread ends. A
   * thread that does not get there in time is ended, and its leases released.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const thread = this.thread;
    if (!thread) return;
    const done = new Promise<boolean>((resolve) => {
      this.stopped = () => resolve(true);
      thread.once('exit', () => resolve(false));
    });
    let deadline: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      deadline = setTimeout(() => resolve('late'), timeoutMs + STOP_GRACE_MS);
    });
    this.post({ type: 'stop', timeoutMs });
    const outcome = await Promise.race([done, late]);
    clearTimeout(deadline);
    await thread.terminate();
    this.thread = undefined;
    if (outcome !== true) {
      if (outcome === 'late') this.options.logger.warn('the delivery thread did not stop in time; ended it');
      await this.releaseLeasesOf(this.owner);
    }
  }

  private post(message: ToDeliveryThread): void {
    this.thread?.postMessage(message);
  }

  private receive(message: FromDeliveryThread): void {
    switch (message.type) {
      case 'log':
        writeLine(this.options.logger, message.line);
        break;
      case 'metrics': {
        this.lastMetrics = message.metrics;
        const resolve = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        resolve?.(message.metrics);
        break;
      }
      case 'ready':
        this.owner = message.owner;
        break;
      case 'stopped':
        this.stopped?.();
        break;
    }
  }

  private exited(thread: Worker, code: number): void {
    if (thread !== this.thread) return;
    // A thread that ended mid-transaction holds no turn for the SQLite write lock any more.
    if (this.options.writeTurns) new WriteTurns(this.options.writeTurns).give(DELIVERY);
    for (const resolve of this.waiting.values()) resolve(this.lastMetrics);
    this.waiting.clear();
    if (this.stopping) return;
    this.thread = undefined;
    const lived = Date.now() - this.startedAt;
    this.restartDelayMs = lived >= HEALTHY_AFTER_MS ? FIRST_RESTART_MS : this.restartDelayMs;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, LONGEST_RESTART_MS);
    const owner = this.owner;
    this.options.logger.error(
      { code, owner, restart_in_ms: delay },
      'the delivery thread ended unexpectedly; its deliveries go back to the queue and a new thread starts',
    );
    void this.releaseLeasesOf(owner);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.options.metrics.deliveryThreadRestarted();
      this.start();
    }, delay);
  }

  /**
   * The thread's calls ended with it, so its leases end now rather than when
   * its heartbeat is 8 s old: at least once, as after any crash. Ended in
   * place, not released as plain retries: a call may have written before the
   * thread went, and the claim then tells connectors to check before redoing.
   */
  private async releaseLeasesOf(owner: string | undefined): Promise<void> {
    if (owner === undefined) return;
    try {
      const released = await expireLeasesOf(this.options.store.db, owner, Date.now());
      if (released > 0)
        this.options.logger.warn({ owner, released }, 'released the deliveries the delivery thread held');
    } catch (error) {
      this.options.logger.error(
        { err: error, owner },
        'could not release the delivery thread’s leases; they are taken over when they expire',
      );
    }
  }
}

/**
 * Writes a line the thread's logger serialized (and already redacted) to the
 * destination of `logger`, as its own lines are written; a logger without a
 * reachable destination logs it again instead.
 */
function writeLine(logger: Logger, line: string): void {
  const stream = (logger as unknown as Record<symbol, { write?: (line: string) => void } | undefined>)[
    pino.symbols.streamSym
  ];
  if (stream?.write) {
    stream.write(line);
    return;
  }
  try {
    const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string };
    const name = pino.levels.labels[level] as 'info';
    logger[name in logger ? name : 'info'](fields, msg ?? '');
  } catch {
    logger.info({ line }, 'delivery thread log line');
  }
}
