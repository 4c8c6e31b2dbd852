import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { webhookSettings } from '../connectors/webhook/settings.ts';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { leadrelayEnv, type Target } from './ingest.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';
import { newSecret, type SignedRequest, SignedRequests } from './signed-requests.ts';

export interface DeliveryOptions {
  /** Events written into the outbox before the worker starts (throughput). */
  queuedEvents: number;
  /** Connector concurrency per throughput run; `undefined` leaves the setting out (the webhook default). */
  concurrencies: (number | undefined)[];
  /** Connector concurrency for the latency run. */
  latencyConcurrency: number;
  /** Open-loop send rate for the latency run. */
  ratePerSecond: number;
  /** Seconds of the latency run that are measured, after the warm-up. */
  steadySeconds: number;
  /** Write V8 CPU profiles of the worker and serve children into this folder (one subfolder per run). */
  cpuProfileDir?: string | undefined;
  log?: (line: string) => void;
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  average: number;
}

export interface OutboxCounts {
  events: number;
  /** Deliveries by status, e.g. `{ "delivered": 10000 }`. */
  deliveries: Record<string, number>;
  attempts: number;
}

export interface FillRun {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  statusCodes: Record<string, number>;
}

export interface ThroughputRun {
  /** The connector's concurrency in effect. */
  concurrency: number;
  /** Whether `concurrency` was written in the connector file or is the webhook default. */
  concurrencySetting: 'explicit' | 'default';
  /** Deliveries waiting in the outbox when the worker started. */
  queued: number;
  /** Requests the sandbox got, counting repeats. */
  received: number;
  /** Distinct `webhook-id`s (leadrelay event ids) among them. */
  unique: number;
  duplicates: number;
  /** Queued events the sandbox never saw before the run ended. */
  missing: number;
  /** `webhook-id`s that are not one of the queued events. */
  unknown: number;
  /** Whether every queued event arrived before the timeout (and the worker did not exit). */
  complete: boolean;
  /** Child spawned → it logged "worker started" (Node + tsx start, config, migrations). */
  startupMs: number;
  /** "worker started" (or the first delivery, if that came first) → the first delivery. */
  firstDeliveryMs: number;
  /** "worker started" → the last queued event received. */
  drainSeconds: number;
  /** unique ÷ drainSeconds: the headline figure. */
  eventsPerSecond: number;
  /** Between the first and the last delivery, without the start-up ramp. */
  steadyEventsPerSecond: number;
  /** Share of one core the worker child used while draining (all its threads). */
  workerCpuPercent: number;
  /** Share of one core this process (the sandbox) used while draining. */
  benchCpuPercent: number;
  /** Most requests the sandbox was handling at once. */
  peakConcurrency: number;
  outbox: OutboxCounts;
  cpuProfileDir?: string | undefined;
}

export interface LatencyRun {
  ratePerSecond: number;
  concurrency: number;
  warmupSeconds: number;
  steadySeconds: number;
  /** POSTs sent, warm-up included. */
  sent: number;
  /** Measured events: sent after the warm-up. */
  measured: number;
  statusCodes: Record<string, number>;
  errors: number;
  /** Accepted events the sandbox received (warm-up included). */
  delivered: number;
  duplicates: number;
  /** Accepted events the sandbox had not received when the run ended. */
  missing: number;
  /** 202 read by the client → the sandbox received that event: "POST accepted → sandbox received". */
  acceptedToReceivedMs: Percentiles;
  /** POST sent → the sandbox received that event. */
  sentToReceivedMs: Percentiles;
  /** POST sent → its 202 read: ingest alone. */
  ingestMs: Percentiles;
  /** How late each POST left against its fixed schedule (open-loop fidelity). */
  sendLagMs: Percentiles;
  serverCpuPercent: number;
  benchCpuPercent: number;
  peakConcurrency: number;
  outbox: OutboxCounts;
  cpuProfileDir?: string | undefined;
}

export interface DeliveryResult {
  part: 'delivery';
  durability: 'full';
  pollIntervalMs: number;
  /** Every event from a different contact, so no two deliveries share an ordering key. */
  orderingKeys: 'distinct';
  fill: FillRun;
  throughput: ThroughputRun[];
  latency: LatencyRun;
  targets: { p50Ms: Target; p99Ms: Target };
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/leadrelay.js');
export const P50_TARGET_MS = 20;
export const P99_TARGET_MS = 100;
export const DEFAULT_CONCURRENCY = webhookSettings.parse({ url: 'http://127.0.0.1/' }).concurrency;
const POLL_INTERVAL = '1s';
const POLL_INTERVAL_MS = 1000;
const FILL_CONNECTIONS = 32;
const WARMUP_SECONDS = 2;
/** How long the latency run waits, after the last POST, for deliveries still on their way. */
const LATENCY_DRAIN_MS = 10_000;

/**
 * Delivery: (1) throughput — the outbox is filled through `leadrelay serve
 * --no-worker`, then `leadrelay worker` drains it into a WebhookSandbox in
 * this process; (2) end-to-end latency — `leadrelay serve` (HTTP + worker)
 * gets signed events on a fixed open-loop schedule and each is timed from
 * its 202 to its arrival at the sandbox. leadrelay runs in child processes,
 * SQLite in a temp dir with `durability: full`.
 */
export async function benchDelivery(options: DeliveryOptions): Promise<DeliveryResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-delivery-'));
  const secret = newSecret();
  try {
    log(`delivery: queueing ${options.queuedEvents} events through leadrelay serve --no-worker`);
    const seed = await fillQueue(join(dir, 'seed'), secret, options.queuedEvents);
    log(
      `delivery: queued ${seed.ids.size} in ${seed.fill.seconds.toFixed(1)} s ` +
        `(${seed.fill.eventsPerSecond.toFixed(0)} events/s)`,
    );

    const throughput: ThroughputRun[] = [];
    for (const concurrency of options.concurrencies) {
      const label = concurrency ?? `${DEFAULT_CONCURRENCY} (default)`;
      log(`delivery: leadrelay worker draining ${seed.ids.size} events, concurrency ${label}`);
      const run = await throughputRun(dir, seed, secret, concurrency, options.cpuProfileDir);
      log(
        `delivery: ${run.unique} delivered in ${run.drainSeconds.toFixed(2)} s ` +
          `(${run.eventsPerSecond.toFixed(0)} events/s)`,
      );
      throughput.push(run);
    }

    log(
      `delivery: leadrelay serve, ${options.ratePerSecond} events/s open loop, ` +
        `${WARMUP_SECONDS} s warm-up + ${options.steadySeconds} s measured`,
    );
    const latency = await latencyRun(dir, secret, options);
    const { p50, p99 } = latency.acceptedToReceivedMs;
    return {
      part: 'delivery',
      durability: 'full',
      pollIntervalMs: POLL_INTERVAL_MS,
      orderingKeys: 'distinct',
      fill: seed.fill,
      throughput,
      latency,
      targets: {
        p50Ms: { target: P50_TARGET_MS, actual: p50, pass: p50 < P50_TARGET_MS },
        p99Ms: { target: P99_TARGET_MS, actual: p99, pass: p99 < P99_TARGET_MS },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Seed {
  dbFile: string;
  /** leadrelay event ids from the 202 bodies: what the sandbox should see as `webhook-id`s. */
  ids: Set<string>;
  fill: FillRun;
}

/** Writes `count` events into a fresh outbox through HTTP, with no worker running, then stops the server. */
async function fillQueue(dir: string, secret: string, count: number): Promise<Seed> {
  mkdirSync(dir, { recursive: true });
  const dbFile = join(dir, 'leadrelay.db');
  const configFile = writeConfig(dir, { dbFile, secret, hookUrl: 'http://127.0.0.1:9/unused' });
  const server = await startServerProcess('leadrelay serve --no-worker', {
    args: [BIN, 'serve', '--no-worker', '--config', configFile],
    env: leadrelayEnv(),
    cwd: ROOT,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: FILL_CONNECTIONS });
  const requests = new SignedRequests(secret, { distinctContacts: true });
  const ids = new Set<string>();
  const statusCodes: Record<string, number> = {};
  let made = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: FILL_CONNECTIONS }, async () => {
        while (made < count) {
          made++;
          const response = await post(agent, server.port, requests.make());
          statusCodes[response.status] = (statusCodes[response.status] ?? 0) + 1;
          if (response.status === 202) ids.add(acceptedId(response.body));
        }
      }),
    );
  } finally {
    agent.destroy();
    // Graceful: the last group commit lands and the database is closed (and checkpointed).
    await server.stop(30_000);
  }
  const seconds = (performance.now() - started) / 1000;
  if (ids.size !== count) {
    throw new Error(
      `queueing: ${ids.size} of ${count} events were accepted (${JSON.stringify(statusCodes)})`,
    );
  }
  return { dbFile, ids, fill: { events: count, seconds, eventsPerSecond: count / seconds, statusCodes } };
}

/** A copy of the filled outbox drained by `leadrelay worker` into a fresh sandbox. */
async function throughputRun(
  dir: string,
  seed: Seed,
  secret: string,
  concurrency: number | undefined,
  profileRoot: string | undefined,
): Promise<ThroughputRun> {
  const effective = concurrency ?? DEFAULT_CONCURRENCY;
  const runDir = join(dir, `throughput-c${effective}${concurrency === undefined ? '-default' : ''}`);
  mkdirSync(runDir, { recursive: true });
  const dbFile = join(runDir, 'leadrelay.db');
  for (const suffix of ['', '-wal']) {
    if (existsSync(seed.dbFile + suffix)) copyFileSync(seed.dbFile + suffix, dbFile + suffix);
  }

  const sandbox = await WebhookSandbox.start();
  const expected = seed.ids.size;
  const firstSeen = new Map<string, number>();
  let received = 0;
  let known = 0;
  let firstAt = Number.POSITIVE_INFINITY;
  let lastAt = 0;
  let allIn: () => void = () => {};
  const allReceived = new Promise<'done'>((resolve) => {
    allIn = () => resolve('done');
  });
  sandbox.onRequest((request) => {
    const at = performance.now();
    received++;
    if (firstSeen.has(request.id)) return;
    firstSeen.set(request.id, at);
    firstAt = Math.min(firstAt, at);
    if (!seed.ids.has(request.id)) return;
    known++;
    lastAt = at;
    if (known === expected) allIn();
  });

  const profileDir = profileRoot
    ? join(profileRoot, `delivery-worker-c${effective}${concurrency === undefined ? '-default' : ''}`)
    : undefined;
  const configFile = writeConfig(runDir, {
    dbFile,
    secret,
    hookUrl: `${sandbox.url}/in`,
    concurrency,
  });
  const spawnedAt = performance.now();
  let worker: ServerProcess | undefined;
  try {
    worker = await startServerProcess(`leadrelay worker (concurrency ${effective})`, {
      args: [
        ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
        BIN,
        'worker',
        '--config',
        configFile,
      ],
      env: leadrelayEnv(),
      cwd: ROOT,
      readyMessage: 'worker started',
    });
    const readyAt = performance.now();
    const workerCpuBefore = worker.cpuSeconds();
    const benchCpuBefore = process.cpuUsage();
    // Generous: 5 ms per event, at least a minute. A run that times out is reported, not thrown.
    const deadline = timer(Math.max(60_000, expected * 5));
    const outcome = await Promise.race([
      allReceived,
      worker.exited.then(() => 'exited' as const),
      deadline.promise.then(() => 'timeout' as const),
    ]);
    deadline.cancel();
    const endedAt = performance.now();
    const workerCpuSeconds = worker.cpuSeconds() - workerCpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);

    await worker.stop(30_000);
    await sandbox.close();
    const outbox = outboxCounts(dbFile);

    const unique = known;
    const startAt = Math.min(readyAt, firstAt);
    const drainEnd = outcome === 'done' ? lastAt : endedAt;
    const drainSeconds = (drainEnd - startAt) / 1000;
    const windowSeconds = (endedAt - readyAt) / 1000;
    return {
      concurrency: effective,
      concurrencySetting: concurrency === undefined ? 'default' : 'explicit',
      queued: expected,
      received,
      unique,
      duplicates: received - firstSeen.size,
      missing: expected - unique,
      unknown: firstSeen.size - unique,
      complete: outcome === 'done',
      startupMs: readyAt - spawnedAt,
      firstDeliveryMs: Number.isFinite(firstAt) ? firstAt - startAt : Number.NaN,
      drainSeconds,
      eventsPerSecond: unique / drainSeconds,
      steadyEventsPerSecond: unique > 1 ? (unique - 1) / ((lastAt - firstAt) / 1000) : Number.NaN,
      workerCpuPercent: (workerCpuSeconds / windowSeconds) * 100,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / windowSeconds) * 100,
      peakConcurrency: sandbox.peakConcurrency,
      outbox,
      cpuProfileDir: profileDir,
    };
  } finally {
    await worker?.stop(30_000);
    await sandbox.close().catch(() => {});
  }
}

/** `leadrelay serve` with its worker, fed on a fixed schedule; each event timed from 202 to the sandbox. */
async function latencyRun(dir: string, secret: string, options: DeliveryOptions): Promise<LatencyRun> {
  const runDir = join(dir, 'latency');
  mkdirSync(runDir, { recursive: true });
  const dbFile = join(runDir, 'leadrelay.db');
  const sandbox = await WebhookSandbox.start();
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  sandbox.onRequest((request) => {
    if (receivedAt.has(request.id)) duplicates++;
    else receivedAt.set(request.id, performance.now());
  });
  const profileDir = options.cpuProfileDir ? join(options.cpuProfileDir, 'delivery-serve') : undefined;
  const configFile = writeConfig(runDir, {
    dbFile,
    secret,
    hookUrl: `${sandbox.url}/in`,
    concurrency: options.latencyConcurrency,
  });
  let server: ServerProcess | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  try {
    server = await startServerProcess('leadrelay serve', {
      args: [
        ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
        BIN,
        'serve',
        '--config',
        configFile,
      ],
      env: leadrelayEnv(),
      cwd: ROOT,
    });
    const port = server.port;

    const rate = options.ratePerSecond;
    const interval = 1000 / rate;
    const warmup = Math.round(WARMUP_SECONDS * rate);
    const total = warmup + Math.round(options.steadySeconds * rate);
    // Signed up front, so signing never delays a send.
    const source = new SignedRequests(secret, { distinctContacts: true });
    const planned = Array.from({ length: total }, () => source.make());
    const sends: {
      due: number;
      sentAt: number;
      answeredAt?: number;
      status?: number;
      id?: string;
    }[] = [];
    const statusCodes: Record<string, number> = {};
    let errors = 0;
    const inflight: Promise<void>[] = [];

    const serverCpuBefore = server.cpuSeconds();
    const benchCpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const start = performance.now() + 50;
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      // Whole milliseconds, so a timer never fires early; the lag column shows what that costs.
      if (wait > 0) await sleep(Math.ceil(wait));
      // Open loop: the next send never waits for this one's answer.
      const entry: (typeof sends)[number] = { due, sentAt: performance.now() };
      sends.push(entry);
      inflight.push(
        post(agent, port, planned[i]!).then(
          (response) => {
            entry.answeredAt = response.answeredAt;
            entry.status = response.status;
            statusCodes[response.status] = (statusCodes[response.status] ?? 0) + 1;
            if (response.status === 202) entry.id = acceptedId(response.body);
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await Promise.all(inflight);
    const drainUntil = performance.now() + LATENCY_DRAIN_MS;
    const outstanding = () => sends.filter((s) => s.id !== undefined && !receivedAt.has(s.id)).length;
    while (outstanding() > 0 && performance.now() < drainUntil) await sleep(20);
    const wallSeconds = (performance.now() - wallBefore) / 1000;
    const serverCpuSeconds = server.cpuSeconds() - serverCpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);

    await server.stop(30_000);
    await sandbox.close();
    const outbox = outboxCounts(dbFile);

    const measured = sends.slice(warmup);
    const fromAccepted: number[] = [];
    const fromSent: number[] = [];
    const ingest: number[] = [];
    for (const send of measured) {
      if (send.answeredAt !== undefined) ingest.push(send.answeredAt - send.sentAt);
      const at = send.id === undefined ? undefined : receivedAt.get(send.id);
      if (at === undefined) continue;
      fromSent.push(at - send.sentAt);
      if (send.answeredAt !== undefined) fromAccepted.push(at - send.answeredAt);
    }
    const accepted = sends.filter((s) => s.id !== undefined);
    const delivered = accepted.filter((s) => receivedAt.has(s.id!)).length;
    return {
      ratePerSecond: rate,
      concurrency: options.latencyConcurrency,
      warmupSeconds: WARMUP_SECONDS,
      steadySeconds: options.steadySeconds,
      sent: sends.length,
      measured: measured.length,
      statusCodes,
      errors,
      delivered,
      duplicates,
      missing: accepted.length - delivered,
      acceptedToReceivedMs: percentiles(fromAccepted),
      sentToReceivedMs: percentiles(fromSent),
      ingestMs: percentiles(ingest),
      sendLagMs: percentiles(measured.map((s) => s.sentAt - s.due)),
      serverCpuPercent: (serverCpuSeconds / wallSeconds) * 100,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / wallSeconds) * 100,
      peakConcurrency: sandbox.peakConcurrency,
      outbox,
      cpuProfileDir: profileDir,
    };
  } finally {
    agent.destroy();
    await server?.stop(30_000);
    await sandbox.close().catch(() => {});
  }
}

interface Posted {
  status: number;
  body: string;
  answeredAt: number;
}

/** One POST to /webhooks/bench; resolves once the whole response has been read. */
function post(agent: Agent, port: number, request: SignedRequest): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhooks/bench',
        agent,
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            answeredAt: performance.now(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(request.body);
  });
}

/** The leadrelay event id in a 202 body, `{"id": …, "deliveries": N}`. */
function acceptedId(body: string): string {
  const parsed = JSON.parse(body) as { id?: unknown };
  if (typeof parsed.id !== 'string') throw new Error(`a 202 without an event id: ${body.slice(0, 200)}`);
  return parsed.id;
}

function outboxCounts(file: string): OutboxCounts {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const deliveries: Record<string, number> = {};
    const rows = db.prepare('select status, count(*) as n from deliveries group by status').all() as {
      status: string;
      n: number;
    }[];
    for (const row of rows) deliveries[row.status] = row.n;
    const count = (table: string) => db.prepare(`select count(*) from ${table}`).pluck().get() as number;
    return { events: count('events'), deliveries, attempts: count('attempts') };
  } finally {
    db.close();
  }
}

/** Nearest-rank percentiles; all NaN for no values. */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: sorted.at(-1) ?? Number.NaN,
    average: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

function writeConfig(
  dir: string,
  settings: { dbFile: string; secret: string; hookUrl: string; concurrency?: number | undefined },
): string {
  const file = join(dir, 'leadrelay.yaml');
  // JSON strings are valid YAML scalars, which saves escaping the path and secret by hand.
  const yaml = `server:
  host: 127.0.0.1
  port: 0

database:
  url: ${JSON.stringify(`sqlite:${settings.dbFile}`)}
  durability: full

sources:
  bench:
    verify: { scheme: standard-webhooks, secrets: [${JSON.stringify(settings.secret)}] }

routes:
  - on: "*"
    to: [hook]

delivery:
  poll_interval: ${POLL_INTERVAL}
`;
  writeFileSync(file, yaml);
  mkdirSync(join(dir, 'connectors'), { recursive: true });
  const connector =
    `type: webhook\nurl: ${JSON.stringify(settings.hookUrl)}\n` +
    (settings.concurrency === undefined ? '' : `concurrency: ${settings.concurrency}\n`);
  writeFileSync(join(dir, 'connectors', 'hook.yaml'), connector);
  return file;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function timer(ms: number): { promise: Promise<void>; cancel: () => void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    handle = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(handle) };
}
