import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from '../../util/logger.ts';
import type { Tables } from '../tables.ts';
import { newClient, type PostgresSettings } from './open-pool.ts';

/*
 * Design note. Cross-process wake-up. Ingest issues NOTIFY inside the
 * transaction that stores events with deliveries; PostgreSQL sends it only
 * when (and if) that transaction commits, and folds repeats within one
 * transaction into one. Every worker LISTENs on a dedicated connection (one
 * outside the pool, held for the process's life) and wakes at once, so an
 * event accepted by one instance starts delivering on another without a
 * polling delay. Notifications are a hint, not the queue: a lost one (the
 * listener reconnecting, a worker starting later) only means the worker's
 * poll picks the rows up instead.
 */
export const OUTBOX_CHANNEL = 'leadrelay_outbox';

/** Queues the wake-up for when the surrounding transaction commits. */
export async function notifyOutbox(db: Kysely<Tables>): Promise<void> {
  await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(db);
}

/**
 * Calls `onNotify` for every outbox notification, reconnecting (after
 * `retryMs`) when the connection drops. Returns a function that stops listening.
 */
export function listenForOutbox(
  settings: PostgresSettings,
  onNotify: () => void,
  logger: Logger,
  retryMs = 1000,
): () => Promise<void> {
  let client: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (stopped) return;
    const next = newClient(settings);
    client = next;
    let failed = false;
    const retry = (error: unknown) => {
      if (failed || stopped) return;
      failed = true;
      logger.warn({ err: error }, 'outbox LISTEN connection lost; polling until it is back');
      void next.end().catch(() => {});
      timer = setTimeout(() => void connect(), retryMs);
      timer.unref();
    };
    next.on('error', retry);
    next.on('end', () => retry(new Error('connection ended')));
    next.on('notification', () => onNotify());
    try {
      await next.connect();
      await next.query(`LISTEN ${OUTBOX_CHANNEL}`);
      // Rows stored while we were not listening are due now: look once.
      onNotify();
    } catch (error) {
      retry(error);
    }
  };
  void connect();

  return async () => {
    stopped = true;
    clearTimeout(timer);
    await client?.end().catch(() => {});
  };
}
