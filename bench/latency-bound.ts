import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Database } from '../src/db/database.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { storeEvents } from '../src/outbox/store-events.ts';
import { DEFAULT_CONCURRENCY } from './delivery.ts';
import { connected, queued, startWorkers, withSchema, writeConfig } from './postgres.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';
import { newSecret } from './signed-requests.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** One worker must reach this share of concurrency ÷ latency. */
export const ONE_WORKER_TARGET = 0.9;
/** Three PostgreSQL workers must deliver this many times what one does. */
export const SCALE_OUT_TARGET = 2.5;

export interface LatencyBoundRun {
  database: 'sqlite' | 'postgres';
  workers: number;
  concurrency: number;
  events: number;
  /** Deliveries per second, from the first request's arrival to the last answer. */
  eventsPerSecond: number;
  /** workers × concurrency ÷ latency: what the destination's latency allows. */
  boundPerSecond: number;
  /** Events the destination received more than once. */
  duplicates: number;
  /** Events it never received. */
  missing: number;
}

export interface LatencyBoundResult {
  part: 'latency';
  latencyMs: number;
  runs: LatencyBoundRun[];
  /** Why PostgreSQL runs are missing, when they are. */
  postgresSkipped?: string;
}

interface DestinationStats {
  received: number;
  distinct: number;
  duplicates: number;
  firstAt?: number;
  lastAt?: number;
}

/*
 * Delivery when the destination, not leadrelay, is slow: a CRM answers in
 * ~100 ms, so what bounds a worker is how many requests it keeps in flight
 * (the connector's concurrency), and what bounds several workers is how well
 * they share the queue. The destination runs in its own process
 * (slow-destination.mjs), answering every request after `latencyMs`. Workers
 * (`leadrelay worker` processes) start first; then `events` events to
 * distinct contacts are stored through the ingest path's store; the rate is
 * taken at the destination, from the first request's arrival to the last
 * answer, so the poll that notices the backlog is not counted.
 */
export async function benchLatencyBound(options: {
  events: number;
  latencyMs: number;
  postgresUrl: string;
  log: (line: string) => void;
}): Promise<LatencyBoundResult> {
  const runs: LatencyBoundRun[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-latency-'));
  try {
    options.log(
      `latency-bound: 1 worker on SQLite, ${options.events} events, destination answers after ${options.latencyMs} ms`,
    );
    runs.push(await run(options, 'sqlite', 1, `sqlite:${join(dir, 'leadrelay.db')}`, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const unreachable = await postgresUnreachable(options.postgresUrl);
  if (unreachable)
    return { part: 'latency', latencyMs: options.latencyMs, runs, postgresSkipped: unreachable };
  for (const workers of [1, 3]) {
    options.log(`latency-bound: ${workers} worker process(es) on PostgreSQL, ${options.events} events`);
    runs.push(
      await withSchema(options.postgresUrl, (url, schemaDir) =>
        run(options, 'postgres', workers, url, schemaDir),
      ),
    );
  }
  return { part: 'latency', latencyMs: options.latencyMs, runs };
}

async function run(
  options: { events: number; latencyMs: number },
  database: 'sqlite' | 'postgres',
  workers: number,
  url: string,
  dir: string,
): Promise<LatencyBoundRun> {
  const destination = await startServerProcess('slow destination', {
    args: [join(ROOT, 'bench/slow-destination.mjs')],
    env: { ...process.env, PORT: '0', LATENCY_MS: String(options.latencyMs) },
    cwd: ROOT,
  });
  const processes: ServerProcess[] = [];
  let db: Database | undefined;
  try {
    const configFile = writeConfig(dir, url, newSecret(), {
      url: `http://127.0.0.1:${destination.port}/in`,
      concurrency: DEFAULT_CONCURRENCY,
    });
    await startWorkers(configFile, workers, processes);
    // The workers have migrated the database; store the backlog as ingest would.
    db = await openDatabase(url);
    const events = queued(options.events, options.events);
    for (let i = 0; i < events.length; i += 500) await storeEvents(db.db, events.slice(i, i + 500));
    if (database === 'postgres')
      await (await connected(url)).query(`select pg_notify('leadrelay_outbox', '')`);

    const boundPerSecond = (workers * DEFAULT_CONCURRENCY * 1000) / options.latencyMs;
    const deadline = Date.now() + 60_000 + (events.length / boundPerSecond) * 10_000;
    let stats = await statsOf(destination.port);
    while (stats.distinct < events.length) {
      if (Date.now() > deadline)
        throw new Error(`latency-bound: only ${stats.distinct} of ${events.length} events arrived in time`);
      for (const worker of processes)
        if (await settledWithin(worker.exited, 0))
          throw new Error(`${worker.name} exited:\n${worker.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      stats = await statsOf(destination.port);
    }
    const seconds = ((stats.lastAt ?? 0) - (stats.firstAt ?? 0)) / 1000;
    return {
      database,
      workers,
      concurrency: DEFAULT_CONCURRENCY,
      events: events.length,
      eventsPerSecond: Math.round(stats.distinct / seconds),
      boundPerSecond,
      duplicates: stats.duplicates,
      missing: events.length - stats.distinct,
    };
  } finally {
    await Promise.all(processes.map((worker) => worker.stop()));
    await db?.close();
    await destination.stop();
  }
}

async function statsOf(port: number): Promise<DestinationStats> {
  const response = await fetch(`http://127.0.0.1:${port}/stats`);
  return (await response.json()) as DestinationStats;
}

function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);
}

async function postgresUnreachable(url: string): Promise<string | undefined> {
  try {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    await client.connect();
    await client.end();
    return undefined;
  } catch (error) {
    return `no PostgreSQL at ${new URL(url).host} (${error instanceof Error ? error.message : String(error)})`;
  }
}

export function formatLatencyBound(result: LatencyBoundResult): string[] {
  const lines = [`Delivery to a destination answering after ${result.latencyMs} ms (latency-bound)`];
  for (const run of result.runs) {
    const share = run.eventsPerSecond / run.boundPerSecond;
    lines.push(
      `  ${run.database}, ${run.workers} worker(s) × concurrency ${run.concurrency}: ${run.eventsPerSecond} events/s of ${run.boundPerSecond} possible (${Math.round(share * 100)}%), ${run.duplicates} delivered twice, ${run.missing} missing`,
    );
  }
  for (const run of result.runs.filter((r) => r.workers === 1)) {
    const share = run.eventsPerSecond / run.boundPerSecond;
    lines.push(
      `  target: one worker on ${run.database} ≥ ${ONE_WORKER_TARGET * 100}% of concurrency ÷ latency: ${Math.round(share * 100)}% ${verdict(share >= ONE_WORKER_TARGET && run.duplicates === 0 && run.missing === 0)}`,
    );
  }
  const one = result.runs.find((r) => r.database === 'postgres' && r.workers === 1);
  const three = result.runs.find((r) => r.database === 'postgres' && r.workers === 3);
  if (one && three) {
    const ratio = three.eventsPerSecond / one.eventsPerSecond;
    lines.push(
      `  target: three PostgreSQL workers ≥ ${SCALE_OUT_TARGET}× one: ${ratio.toFixed(2)}× ${verdict(ratio >= SCALE_OUT_TARGET && three.duplicates === 0 && three.missing === 0)}`,
    );
  }
  if (result.postgresSkipped) lines.push(`  PostgreSQL runs skipped: ${result.postgresSkipped}`);
  return lines;
}

function verdict(pass: boolean): string {
  return pass ? 'PASS' : 'MISS';
}
