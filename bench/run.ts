// `npm run bench [-- --only startup|ingest|delivery|latency|hubspot|salesforce] [--duration N] [--connections N] [--cpu-prof]
//   [--queued N] [--concurrency N …] [--rate N] [--steady-seconds N] [--leads N]
//   [--latency-events N] [--latency-ms N] [--db postgres]` — `--db postgres` runs the PostgreSQL scale-out part instead
//   (ingest, delivery with 1 and 3 worker processes) on a postgres:// $DATABASE_URL,
//   else $TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test.
// Runs each benchmark part, prints its table and writes every figure to
// bench/results/latest.json. Targets that are missed are reported, not
// failed on: numbers from a shared or small machine are a signal, not a gate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDelivery, DEFAULT_CONCURRENCY, type DeliveryResult } from './delivery.ts';
import { benchHubSpot, formatHubSpot, type HubSpotResult } from './hubspot.ts';
import { benchIngest, type IngestResult } from './ingest.ts';
import { benchLatencyBound, formatLatencyBound, type LatencyBoundResult } from './latency-bound.ts';
import { benchPostgres, formatPostgres, type PostgresResult } from './postgres.ts';
import { formatDelivery, formatIngest } from './report.ts';
import { benchSalesforce, formatSalesforce, type SalesforceResult } from './salesforce.ts';
import { benchStartup, formatStartup, type StartupResult } from './startup.ts';

const PARTS = ['startup', 'ingest', 'delivery', 'latency', 'hubspot', 'salesforce'] as const;
type Part = (typeof PARTS)[number];

const RESULTS_DIR = fileURLToPath(new URL('results/', import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      'cpu-prof': { type: 'boolean', default: false },
      // delivery: events queued before the worker starts, and the connector concurrency of each
      // throughput run (the webhook default, 8, is run as well unless listed)
      queued: { type: 'string', default: '10000' },
      concurrency: { type: 'string', multiple: true },
      // delivery latency: open-loop rate and measured seconds (after a 2 s warm-up)
      rate: { type: 'string', default: '50' },
      'steady-seconds': { type: 'string', default: '20' },
      // hubspot: leads queued for the HubSpot sandbox at 100 requests / 10 s
      leads: { type: 'string', default: '20000' },
      // latency: events to distinct contacts, and how long the destination takes to answer
      'latency-events': { type: 'string', default: '800' },
      'latency-ms': { type: 'string', default: '100' },
      db: { type: 'string', default: 'sqlite' },
    },
  });
  if (values.db !== 'sqlite' && values.db !== 'postgres')
    throw new Error(`--db takes sqlite or postgres, got "${values.db}"`);
  const durationSeconds = positiveInteger('--duration', values.duration);
  const connections = positiveInteger('--connections', values.connections);
  const parts = (values.only ?? [...PARTS]).map(partName);
  const queuedEvents = positiveInteger('--queued', values.queued);
  const concurrencies = (values.concurrency ?? ['16']).map((text) => positiveInteger('--concurrency', text));
  const ratePerSecond = positiveInteger('--rate', values.rate);
  const steadySeconds = positiveInteger('--steady-seconds', values['steady-seconds']);
  const log = (line: string) => console.error(line); // progress on stderr keeps stdout to the report

  const leads = positiveInteger('--leads', values.leads);
  const latencyEvents = positiveInteger('--latency-events', values['latency-events']);
  const latencyMs = positiveInteger('--latency-ms', values['latency-ms']);
  const postgresUrl =
    [process.env.DATABASE_URL, process.env.TEST_DATABASE_URL].find((url) => url?.startsWith('postgres')) ??
    'postgres://postgres@127.0.0.1:5432/test';
  const results: {
    ingest?: IngestResult;
    delivery?: DeliveryResult;
    latency?: LatencyBoundResult;
    startup?: StartupResult;
    hubspot?: HubSpotResult;
    salesforce?: SalesforceResult;
    postgres?: PostgresResult;
  } = {};
  if (values.db === 'postgres') {
    results.postgres = await benchPostgres({
      databaseUrl: postgresUrl,
      durationSeconds,
      connections,
      queuedEvents,
      concurrency: concurrencies[0]!,
      log,
    });
    console.log(formatPostgres(results.postgres).join('\n'));
  }
  for (const part of values.db === 'postgres' ? [] : parts) {
    switch (part) {
      case 'ingest': {
        const cpuProfileDir = values['cpu-prof'] ? `${RESULTS_DIR}profiles` : undefined;
        results.ingest = await benchIngest({ durationSeconds, connections, cpuProfileDir, log });
        console.log(formatIngest(results.ingest, durationSeconds).join('\n'));
        if (cpuProfileDir)
          console.log(`leadrelay CPU profile written to ${relative(process.cwd(), cpuProfileDir)}/`);
        break;
      }
      case 'delivery': {
        const cpuProfileDir = values['cpu-prof'] ? `${RESULTS_DIR}profiles` : undefined;
        results.delivery = await benchDelivery({
          queuedEvents,
          // The first listed is the headline; the default is added for comparison.
          concurrencies: [
            ...concurrencies,
            ...(concurrencies.includes(DEFAULT_CONCURRENCY) ? [] : [undefined]),
          ],
          latencyConcurrency: concurrencies[0]!,
          ratePerSecond,
          steadySeconds,
          cpuProfileDir,
          log,
        });
        console.log(formatDelivery(results.delivery).join('\n'));
        if (cpuProfileDir)
          console.log(
            `leadrelay CPU profiles written to ${relative(process.cwd(), cpuProfileDir)}/delivery-*/`,
          );
        break;
      }
      case 'startup': {
        results.startup = await benchStartup({ runs: 5, log });
        console.log(formatStartup(results.startup).join('\n'));
        break;
      }
      case 'latency': {
        results.latency = await benchLatencyBound({ events: latencyEvents, latencyMs, postgresUrl, log });
        console.log(formatLatencyBound(results.latency).join('\n'));
        break;
      }
      case 'hubspot': {
        results.hubspot = await benchHubSpot({ leads, log });
        console.log(formatHubSpot(results.hubspot).join('\n'));
        break;
      }
      case 'salesforce': {
        results.salesforce = await benchSalesforce({ log });
        console.log(formatSalesforce(results.salesforce).join('\n'));
        break;
      }
    }
  }

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}latest.json`;
  const machine = {
    node: process.version,
    platform: process.platform,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
  };
  const report = {
    at: new Date().toISOString(),
    machine,
    options: {
      durationSeconds,
      connections,
      parts,
      ...(parts.includes('delivery') ? { queuedEvents, concurrencies, ratePerSecond, steadySeconds } : {}),
    },
    results,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${relative(process.cwd(), file)}`);
  return 0;
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} takes a whole number above 0, got "${text}"`);
  return value;
}

function partName(text: string): Part {
  if ((PARTS as readonly string[]).includes(text)) return text as Part;
  throw new Error(`--only takes one of ${PARTS.join(', ')}, got "${text}"`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
