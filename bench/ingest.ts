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
  /** leadrelay, a new event signed per request. */
  leadrelay: ServerRun;
  /** leadrelay req/s ÷ bare req/s: the figure the target is about. */
  ratio: number;
  /** leadrelay req/s ÷ the client ceiling: stricter, for when the bare run was client-bound. */
  ratioToCeiling: number;
  targets: { ratio: Target; p99Ms: Target };
  storage: StorageCheck;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RATIO_TARGET = 0.3;
export const P99_TARGET_MS = 50;
const PRESIGNED_FOR_BARE = 10_000;

/**
 * Ingest throughput: autocannon (here, in the parent) against a bare
 * node:http server and against `leadrelay serve`, each in its own process,
 * with distinct signed events, then a reconciliation of the database with
 * the responses.
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

    const dbFile = join(dir, 'leadrelay.db');
    const configFile = writeConfig(dir, dbFile, secret);
    const leadrelayServer = await startServerProcess('leadrelay', {
      args: [
        ...(options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []),
        join(ROOT, 'bin/leadrelay.js'),
        'serve',
        // Ingest alone: the worker's cost is measured by the delivery part, and its
        // connectors here point nowhere (their retries would only add noise).
        '--no-worker',
        '--config',
        configFile,
      ],
      env: leadrelayEnv(),
      cwd: ROOT,
    });
    log(`ingest: leadrelay, signed events, ${options.durationSeconds} s`);
    const signed = new SignedRequests(secret);
    const { ledger, ...leadrelay } = await measure(leadrelayServer, { ...load, requests: signed });
    // Graceful stop commits what was accepted and closes the database, so the check sees it all.
    await leadrelayServer.stop(30_000);
    const storage = checkStorage(dbFile, ledger!, signed);

    const ratio = leadrelay.requestsPerSecond / bare.requestsPerSecond;
    const ratioToCeiling = leadrelay.requestsPerSecond / clientCeiling.requestsPerSecond;
    return {
      part: 'ingest',
      connections: options.connections,
      durability: 'full',
      signingMicrosPerRequest,
      clientCeiling: withoutLedger(clientCeiling),
      bare: withoutLedger(bare),
      leadrelay,
      ratio,
      ratioToCeiling,
      targets: {
        ratio: { target: RATIO_TARGET, actual: ratio, pass: ratio >= RATIO_TARGET },
        p99Ms: {
          target: P99_TARGET_MS,
          actual: leadrelay.latencyMs.p99,
          pass: leadrelay.latencyMs.p99 < P99_TARGET_MS,
        },
      },
      storage,
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

function writeConfig(dir: string, dbFile: string, secret: string): string {
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
  // Routes must name real connector files; ingest never calls them.
  mkdirSync(join(dir, 'connectors'));
  for (const name of ['hubspot', 'slack-sales']) {
    writeFileSync(join(dir, 'connectors', `${name}.yaml`), 'type: webhook\nurl: http://127.0.0.1:9/unused\n');
  }
  return file;
}

/** The caller's environment minus what would point leadrelay elsewhere than the temp config and database. */
export function leadrelayEnv(): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, LEADRELAY_CONFIG: _config, ...env } = process.env;
  // info, not the caller's level: debug logs a line per request and would be measured too.
  return { ...env, PORT: '0', LOG_LEVEL: 'info' };
}
