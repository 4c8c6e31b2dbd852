import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadResult, runLoad } from './load.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';
import { newSecret, RepeatedRequests, SignedRequests, signingCostMicros } from './signed-requests.ts';
import { checkStorage, type StorageCheck } from './storage-check.ts';

export interface IngestOptions {
  durationSeconds: number;
  connections: number;
  /** Write a V8 CPU profile of the leadrelay process into this folder. */
  cpuProfileDir?: string | undefined;
  log?: (line: string) => void;
}

export type ServerRun = Omit<LoadResult, 'ledger'> & {
  /** Share of one core the server process used during the run. */
  serverCpuPercent: number;
};

export interface Target {
  target: number;
  actual: number;
  pass: boolean;
}

export interface IngestResult {
  part: 'ingest';
  connections: number;
  durability: 'full';
  /** Parent-side cost of making one signed request (JSON splice + HMAC + headers). */
  signingMicrosPerRequest: number;
  /** Bare server, one fixed request: what autocannon alone can push on this machine. */
  clientCeiling: ServerRun;
  /** Bare server, a repeating pool of pre-signed events. */
  bare: ServerRun;
  /** `leadrelay serve --no-worker`, a new event signed per request. */
  leadrelay: ServerRun;
  /** `leadrelay serve` (HTTP + its delivery thread), the same load while the worker delivers. */
  withWorker: WorkerRun;
  /** leadrelay req/s ÷ bare req/s: the figure the target is about. */
  ratio: number;
  /** leadrelay req/s ÷ the client ceiling: stricter, for when the bare run was client-bound. */
  ratioToCeiling: number;
  /** `serve` with its worker ÷ `serve --no-worker`, req/s: what delivering costs ingest. */
  workerRatio: number;
  targets: { ratio: Target; p99Ms: Target; workerRatio: Target; workerP99Ms: Target };
  storage: StorageCheck;
  /** The same reconciliation for the run with the worker. */
  workerStorage: StorageCheck;
}

export type WorkerRun = ServerRun & {
  /** Requests the destination answered during the measured run (leadrelay's deliveries). */
  delivered: number;
  deliveredPerSecond: number;
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RATIO_TARGET = 0.3;
export const P99_TARGET_MS = 50;
export const WORKER_RATIO_TARGET = 0.8;
const PRESIGNED_FOR_BARE = 10_000;

/**
 * Ingest throughput: autocannon (here, in the parent) against a bare
 * node:http server, against `leadrelay serve --no-worker`, and against
 * `leadrelay serve` while its worker delivers every event to a webhook
 * destination in another process that answers 200 at once — each in its
 * own process, with distinct signed events — then a reconciliation of each
 * database with the responses.
 */
export async function benchIngest(options: IngestOptions): Promise<IngestResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-'));
  const secret = newSecret();
  try {
    const signingMicrosPerRequest = signingCostMicros(secret);
    const fixed = new SignedRequests(secret).make();
    const load = { connections: options.connections, durationSeconds: options.durationSeconds };

    const bareServer = await startServerProcess('bare server', {
      args: [join(ROOT, 'bench/bare-server.mjs')],
      env: { ...process.env, PORT: '0' },
      cwd: ROOT,
    });
    // Half as long: it only has to show the client's ceiling, not a steady state.
    const ceilingSeconds = Math.max(2, Math.ceil(options.durationSeconds / 2));
    log(`ingest: client ceiling, bare server, one fixed request, ${ceilingSeconds} s`);
    const clientCeiling = await measure(bareServer, {
      ...load,
      durationSeconds: ceilingSeconds,
      requests: { fixed },
    });
    log(`ingest: bare server, pre-signed events, ${options.durationSeconds} s`);
    const bare = await measure(bareServer, {
      ...load,
      requests: new RepeatedRequests(new SignedRequests(secret), PRESIGNED_FOR_BARE),
    });
    await bareServer.stop();

    // Both leadrelay runs route to it; only the second delivers.
    const destination = await startServerProcess('destination', {
      args: [join(ROOT, 'bench/slow-destination.mjs')],
      env: { ...process.env, PORT: '0', LATENCY_MS: '0' },
      cwd: ROOT,
    });
    const destinationUrl = `http://127.0.0.1:${destination.port}`;
    const leadrelayRun = async (name: string, serveArgs: string[]) => {
      const home = join(dir, name);
      mkdirSync(home);
      const dbFile = join(home, 'leadrelay.db');
      const server = await startServerProcess(`leadrelay ${name}`, {
        args: [
          ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
          join(ROOT, 'bin/leadrelay.js'),
          'serve',
          ...serveArgs,
          '--config',
          writeConfig(home, dbFile, secret, `${destinationUrl}/in`),
        ],
        env: leadrelayEnv(),
        cwd: ROOT,
      });
      // Measured once the worker delivers, not while its thread is still starting.
      if (!serveArgs.includes('--no-worker'))
        await until(() => server.output().includes('"msg":"delivery thread started"'), server, 60_000);
      const receivedBefore = await destinationReceived(destinationUrl);
      // Many leads from many people, as in the delivery part: with one contact every
      // delivery would share one ordering key and the worker would deliver one at a time.
      const signed = new SignedRequests(secret, { distinctContacts: true });
      const { ledger, ...run } = await measure(server, { ...load, requests: signed });
      const delivered = (await destinationReceived(destinationUrl)) - receivedBefore;
      // Graceful stop commits what was accepted and closes the database, so the check sees it all.
      await server.stop(30_000);
      return {
        run: { ...run, delivered, deliveredPerSecond: delivered / run.durationSeconds },
        storage: checkStorage(dbFile, ledger!, signed),
      };
    };
    let noWorker: Awaited<ReturnType<typeof leadrelayRun>>;
    let worker: Awaited<ReturnType<typeof leadrelayRun>>;
    try {
      log(`ingest: leadrelay serve --no-worker, signed events, ${options.durationSeconds} s`);
      noWorker = await leadrelayRun('no-worker', ['--no-worker']);
      log(
        `ingest: leadrelay serve, worker delivering to a destination process, ${options.durationSeconds} s`,
      );
      worker = await leadrelayRun('worker', []);
    } finally {
      await destination.stop();
    }
    const { delivered: _delivered, deliveredPerSecond: _rate, ...leadrelay } = noWorker.run;
    const withWorker = worker.run;
    const storage = noWorker.storage;

    const ratio = leadrelay.requestsPerSecond / bare.requestsPerSecond;
    const ratioToCeiling = leadrelay.requestsPerSecond / clientCeiling.requestsPerSecond;
    const workerRatio = withWorker.requestsPerSecond / leadrelay.requestsPerSecond;
    return {
      part: 'ingest',
      connections: options.connections,
      durability: 'full',
      signingMicrosPerRequest,
      clientCeiling: withoutLedger(clientCeiling),
      bare: withoutLedger(bare),
      leadrelay,
      withWorker,
      ratio,
      ratioToCeiling,
      workerRatio,
      targets: {
        ratio: { target: RATIO_TARGET, actual: ratio, pass: ratio >= RATIO_TARGET },
        p99Ms: {
          target: P99_TARGET_MS,
          actual: leadrelay.latencyMs.p99,
          pass: leadrelay.latencyMs.p99 < P99_TARGET_MS,
        },
        workerRatio: {
          target: WORKER_RATIO_TARGET,
          actual: workerRatio,
          pass: workerRatio >= WORKER_RATIO_TARGET,
        },
        workerP99Ms: {
          target: P99_TARGET_MS,
          actual: withWorker.latencyMs.p99,
          pass: withWorker.latencyMs.p99 < P99_TARGET_MS,
        },
      },
      storage,
      workerStorage: worker.storage,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(
  server: ServerProcess,
  options: Omit<Parameters<typeof runLoad>[0], 'url'>,
): Promise<LoadResult & { serverCpuPercent: number }> {
  const cpuBefore = server.cpuSeconds();
  const wallBefore = process.hrtime.bigint();
  const result = await runLoad({ ...options, url: `http://127.0.0.1:${server.port}` });
  const wallSeconds = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const serverCpuPercent = ((server.cpuSeconds() - cpuBefore) / wallSeconds) * 100;
  return { ...result, serverCpuPercent };
}

function withoutLedger({ ledger: _ledger, ...run }: LoadResult & { serverCpuPercent: number }): ServerRun {
  return run;
}

async function until(condition: () => boolean, server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(
        `${server.name}: its delivery thread did not start within ${timeoutMs} ms\n${server.output()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many requests the destination has answered so far. */
async function destinationReceived(url: string): Promise<number> {
  const stats = (await (await fetch(`${url}/stats`)).json()) as { received: number };
  return stats.received;
}

function writeConfig(dir: string, dbFile: string, secret: string, destination: string): string {
  const file = join(dir, 'leadrelay.yaml');
  // JSON strings are valid YAML scalars, which saves escaping the path and secret by hand.
  const yaml = `server:
  host: 127.0.0.1
  port: 0

database:
  url: ${JSON.stringify(`sqlite:${dbFile}`)}
  durability: full

sources:
  bench:
    verify: { scheme: standard-webhooks, secrets: [${JSON.stringify(secret)}] }

routes:
  - on: lead.qualified
    to: [hubspot, slack-sales]
`;
  writeFileSync(file, yaml);
  // Two webhook connectors to one destination: two outbox rows per event, as
  // in every earlier run of this part; `--no-worker` never calls them.
  mkdirSync(join(dir, 'connectors'));
  for (const name of ['hubspot', 'slack-sales']) {
    writeFileSync(
      join(dir, 'connectors', `${name}.yaml`),
      `type: webhook\nurl: ${JSON.stringify(destination)}\n`,
    );
  }
  return file;
}

/** The caller's environment minus what would point leadrelay elsewhere than the temp config and database. */
export function leadrelayEnv(): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, LEADRELAY_CONFIG: _config, ...env } = process.env;
  // info, not the caller's level: debug logs a line per request and would be measured too.
  return { ...env, PORT: '0', LOG_LEVEL: 'info' };
}
