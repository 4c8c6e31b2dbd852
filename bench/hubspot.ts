import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { sqliteEventInserter } from '../src/outbox/store-events.ts';
import { newId } from '../src/util/ids.ts';
import { startServerProcess } from './server-process.ts';

export interface HubSpotOptions {
  leads: number;
  log?: (line: string) => void;
}

export interface HubSpotResult {
  part: 'hubspot';
  leads: number;
  rateLimit: { requests: number; perSeconds: number };
  requestsPerBatch: number;
  seconds: number;
  leadsPerSecond: number;
  /** What the rate limit allows with 100-lead batches and the requests each batch needs. */
  boundLeadsPerSecond: number;
  ratioToBound: number;
  requests: number;
  rateLimited: number;
  contacts: number;
  notes: number;
  lost: number;
  deadDeliveries: number;
  target: { ratio: number; pass: boolean };
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RATE = { requests: 100, perSeconds: 10 };
/** batch read (which contacts exist), batch upsert, batch note create. */
const REQUESTS_PER_BATCH = 3;
const TARGET = 0.8;

/**
 * HubSpot throughput under HubSpot's lowest published limit: `leads` queued
 * leads (written straight into the outbox), one `leadrelay worker` process,
 * the HubSpot sandbox enforcing 100 requests per rolling 10 s. The bound is
 * what that limit allows with 100-lead batches at three requests a batch.
 */
export async function benchHubSpot(options: HubSpotOptions): Promise<HubSpotResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-hubspot-'));
  const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: RATE.requests, dailyLimit: 1_000_000 });
  try {
    const dbFile = join(dir, 'leadrelay.db');
    const configFile = writeConfig(dir, dbFile, hubspot.url);
    await queueLeads(dbFile, options.leads);
    log(
      `hubspot: ${options.leads} leads queued; delivering with one worker at ${RATE.requests} requests / ${RATE.perSeconds} s`,
    );

    const started = performance.now();
    const worker = await startServerProcess('leadrelay worker', {
      args: [join(ROOT, 'bin', 'leadrelay.js'), 'worker', '--config', configFile],
      env: { ...process.env, LOG_LEVEL: 'info', DATABASE_URL: '', LEADRELAY_CONFIG: '' },
      cwd: ROOT,
      readyMessage: 'worker started',
      timeoutMs: 30_000,
    });
    let lastReport = 0;
    while (hubspot.state.notes.size < options.leads) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(
          `hubspot: ${hubspot.state.notes.size}/${options.leads} notes after ${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
      }
      if (performance.now() - started > 30 * 60_000) break;
    }
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();

    const db = await openDatabase(`sqlite:${dbFile}`);
    const dead = await db.db.selectFrom('deliveries').select('id').where('status', '=', 'dead').execute();
    const delivered = await db.db
      .selectFrom('deliveries')
      .select('id')
      .where('status', '=', 'delivered')
      .execute();
    await db.close();
    const bound = (RATE.requests / RATE.perSeconds / REQUESTS_PER_BATCH) * 100;
    const leadsPerSecond = options.leads / seconds;
    return {
      part: 'hubspot',
      leads: options.leads,
      rateLimit: RATE,
      requestsPerBatch: REQUESTS_PER_BATCH,
      seconds,
      leadsPerSecond,
      boundLeadsPerSecond: bound,
      ratioToBound: leadsPerSecond / bound,
      requests: hubspot.log.length,
      rateLimited: hubspot.rateLimited(),
      contacts: hubspot.state.contacts.size,
      notes: hubspot.state.notes.size,
      lost: options.leads - delivered.length,
      deadDeliveries: dead.length,
      target: { ratio: TARGET, pass: leadsPerSecond / bound >= TARGET },
    };
  } finally {
    await hubspot.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function queueLeads(dbFile: string, count: number): Promise<void> {
  const store = await openDatabase(`sqlite:${dbFile}`, { durability: 'normal' });
  await migrateToLatest(store.db as never);
  const insert = sqliteEventInserter(store.sqlite!);
  const now = Date.now();
  for (let start = 0; start < count; start += 1000) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) {
      const email = `lead${i}@bench.example`;
      const event = {
        id: `evt_bench_${i}`,
        type: 'lead.qualified',
        contact: { email, name: `Lead Number${i}`, company: `Company ${i % 500}` },
        conversation: { id: `c${i}`, messages: [{ role: 'user', text: 'We would like a demo.' }] },
        lead: { score: 70 + (i % 30) },
      };
      batch.push({
        id: newId('ev', now),
        source: 'bench',
        externalId: event.id,
        type: event.type,
        receivedAt: now,
        occurredAt: null,
        payload: JSON.stringify(event),
        connectors: ['hubspot'],
        orderingKey: `email:${email}`,
      });
    }
    insert(batch);
  }
  await store.close();
}

function writeConfig(dir: string, dbFile: string, hubspotUrl: string): string {
  const file = join(dir, 'leadrelay.yaml');
  writeFileSync(
    file,
    [
      'sources:',
      '  bench:',
      '    verify: { scheme: none }',
      '    insecure: true',
      'routes:',
      '  - { on: lead.qualified, to: [hubspot] }',
      'database:',
      `  url: ${JSON.stringify(`sqlite:${dbFile}`)}`,
      'delivery:',
      '  poll_interval: 200ms',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'connectors'));
  writeFileSync(
    join(dir, 'connectors', 'hubspot.yaml'),
    [
      'type: hubspot',
      'access_token: pat-sandbox',
      `base_url: ${hubspotUrl}`,
      'portal_id: 62515001',
      `rate_limit: { requests: ${RATE.requests}, per: ${RATE.perSeconds}s }`,
      '',
    ].join('\n'),
  );
  return file;
}

export function formatHubSpot(result: HubSpotResult): string[] {
  return [
    `hubspot: ${result.leads} queued leads, one worker, sandbox limit ${result.rateLimit.requests} requests / ${result.rateLimit.perSeconds} s`,
    '',
    `delivered in ${result.seconds.toFixed(1)} s: ${result.leadsPerSecond.toFixed(0)} leads/s`,
    `bound: ${result.boundLeadsPerSecond.toFixed(0)} leads/s (${result.rateLimit.requests / result.rateLimit.perSeconds} requests/s ÷ ${result.requestsPerBatch} requests per 100-lead batch × 100)`,
    `ratio to bound: ${result.ratioToBound.toFixed(2)} (target ≥ ${result.target.ratio})  ${result.target.pass ? 'PASS' : 'MISS'}`,
    `requests sent: ${result.requests}, answered 429: ${result.rateLimited}`,
    `contacts: ${result.contacts}, notes: ${result.notes}, lost: ${result.lost}, dead: ${result.deadDeliveries}`,
  ];
}
