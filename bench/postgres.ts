import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { type EventToStore, storeEvents } from '../src/outbox/store-events.ts';
import { leadrelayEnv } from './ingest.ts';
import { runLoad } from './load.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';
import { newSecret, SignedRequests } from './signed-requests.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface PostgresResult {
  part: 'postgres';
  ingest: { connections: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number };
  delivery: { workers: number; concurrency: number; events: number; keys: number; eventsPerSecond: number }[];
}

/*
 * `npm run bench -- --db postgres`: the scale-out figures of docs/scaling.md.
 * Each run gets a fresh schema on `databaseUrl` (dropped after). Ingest:
 * autocannon against one `serve --no-worker`. Delivery: `queued` events are
 * stored (through the ingest path's store), then 1 or 3 `leadrelay worker`
 * processes deliver them to a webhook sandbox in this process; the clock runs
 * from the wake-up NOTIFY to the last delivery.
 */
export async function benchPostgres(options: {
  databaseUrl: string;
  durationSeconds: number;
  connections: number;
  queuedEvents: number;
  concurrency: number;
  log: (line: string) => void;
}): Promise<PostgresResult> {
  const { log } = options;
  const secret = newSecret();

  log(`postgres ingest: serve --no-worker, ${options.connections} connections, ${options.durationSeconds} s`);
  const ingest = await withSchema(options.databaseUrl, async (url, dir) => {
    const configFile = writeConfig(dir, url, secret, undefined);
    const server = await startServerProcess('leadrelay serve', {
      args: [join(ROOT, 'bin/leadrelay.js'), 'serve', '--no-worker', '--config', configFile],
      env: leadrelayEnv(),
      cwd: ROOT,
    });
    try {
      const result = await runLoad({
        url: `http://127.0.0.1:${server.port}`,
        connections: options.connections,
        durationSeconds: options.durationSeconds,
        requests: new SignedRequests(secret),
      });
      return {
        connections: options.connections,
        requestsPerSecond: Math.round(result.requestsPerSecond),
        p50Ms: result.latencyMs.p50,
        p99Ms: result.latencyMs.p99,
        non2xx: result.non2xx,
      };
    } finally {
      await server.stop(30_000);
    }
  });

  const delivery: PostgresResult['delivery'] = [];
  for (const workers of [1, 3]) {
    const keys = Math.max(1, Math.floor(options.queuedEvents / 5));
    log(`postgres delivery: ${workers} worker process(es), ${options.queuedEvents} events over ${keys} keys`);
    const eventsPerSecond = await withSchema(options.databaseUrl, async (url, dir) => {
      const sandbox = await WebhookSandbox.start();
      const configFile = writeConfig(dir, url, secret, {
        url: `${sandbox.url}/in`,
        concurrency: options.concurrency,
      });
      const store = await openDatabase(url);
      const processes: ServerProcess[] = [];
      try {
        await startWorkers(configFile, workers, processes);
        const events = queued(options.queuedEvents, keys);
        for (let i = 0; i < events.length; i += 500) await storeEvents(store.db, events.slice(i, i + 500));
        const started = performance.now();
        await (await connected(url)).query(`select pg_notify('leadrelay_outbox', '')`);
        while (sandbox.delivered().length < events.length) await new Promise((r) => setTimeout(r, 20));
        return Math.round(events.length / ((performance.now() - started) / 1000));
      } finally {
        await Promise.all(processes.map((p) => p.stop()));
        await store.close();
        await sandbox.close();
      }
    });
    delivery.push({
      workers,
      concurrency: options.concurrency,
      events: options.queuedEvents,
      keys,
      eventsPerSecond,
    });
  }
  return { part: 'postgres', ingest, delivery };
}

export function formatPostgres(result: PostgresResult): string[] {
  return [
    'PostgreSQL scale-out',
    `  ingest (serve --no-worker, ${result.ingest.connections} connections): ${result.ingest.requestsPerSecond} req/s, p50 ${result.ingest.p50Ms} ms, p99 ${result.ingest.p99Ms} ms, non-2xx ${result.ingest.non2xx}`,
    ...result.delivery.map(
      (run) =>
        `  delivery, ${run.workers} worker process(es) × concurrency ${run.concurrency}: ${run.eventsPerSecond} events/s (${run.events} events, ${run.keys} keys)`,
    ),
  ];
}

const clients: pg.Client[] = [];
export async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

/** Runs `run` on a fresh schema of `databaseUrl` (dropped after), with a scratch directory. */
export async function withSchema<T>(
  databaseUrl: string,
  run: (url: string, dir: string) => Promise<T>,
): Promise<T> {
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = await connected(databaseUrl);
  await admin.query(`create schema ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-pg-'));
  try {
    return await run(url.toString(), dir);
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`);
    for (const client of clients.splice(0)) await client.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts `count` `leadrelay worker` processes on `configFile`, one after
 * another, each pushed to `into` as soon as it runs (so a caller's cleanup
 * stops those started before a failure).
 */
export async function startWorkers(
  configFile: string,
  count: number,
  into: ServerProcess[],
  timeoutMs = 60_000,
): Promise<void> {
  for (let i = 0; i < count; i++)
    into.push(
      await startServerProcess(`leadrelay worker ${i + 1}`, {
        args: [join(ROOT, 'bin/leadrelay.js'), 'worker', '--config', configFile],
        env: leadrelayEnv(),
        cwd: ROOT,
        readyMessage: 'worker started',
        timeoutMs,
      }),
    );
}

/** A config with one `hook` webhook connector (or none), on the database at `url`. */
export function writeConfig(
  dir: string,
  url: string,
  secret: string,
  hook: { url: string; concurrency: number } | undefined,
): string {
  const file = join(dir, 'leadrelay.yaml');
  const routes = hook
    ? '  - on: "*"\n    to: [hook]\n'
    : '  - on: lead.qualified\n    to: [hubspot, slack-sales]\n';
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: 0 }\ndatabase: { url: ${JSON.stringify(url)} }\n` +
      `delivery: { poll_interval: 1s }\nsources:\n  bench:\n    verify: { scheme: standard-webhooks, secrets: [${JSON.stringify(secret)}] }\n` +
      `routes:\n${routes}`,
  );
  mkdirSync(join(dir, 'connectors'));
  if (hook)
    writeFileSync(
      join(dir, 'connectors', 'hook.yaml'),
      `type: webhook\nurl: ${JSON.stringify(hook.url)}\nconcurrency: ${hook.concurrency}\n`,
    );
  else
    for (const name of ['hubspot', 'slack-sales'])
      writeFileSync(
        join(dir, 'connectors', `${name}.yaml`),
        'type: webhook\nurl: http://127.0.0.1:9/unused\n',
      );
  return file;
}

/** `count` lead events for the `hook` connector, spread over `keys` ordering keys (contacts). */
export function queued(count: number, keys: number): EventToStore[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const key = `lead${i % keys}@bench.example`;
    const id = `ev_bench_${String(i).padStart(7, '0')}`;
    return {
      id,
      source: 'bench',
      externalId: id,
      type: 'lead.qualified',
      receivedAt: now,
      occurredAt: null,
      payload: JSON.stringify({ id, type: 'lead.qualified', contact: { email: key } }),
      connectors: ['hook'],
      orderingKey: key,
    };
  });
}
