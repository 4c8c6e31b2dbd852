import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ChildServer, startChildServer } from '../helpers/child-server.ts';
import { cleanupsAfter } from '../helpers/cleanups.ts';
import { newSecret } from '../helpers/harness.ts';
import { leadEvent, officialHeaders } from '../helpers/sign.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { rawRequest, rssMiB } from './common.ts';
import { record } from './results.ts';

/** One line of hostile/corpus.jsonl (written by hostile/generate-corpus.mjs). */
interface HostileCase {
  name: string;
  source?: string;
  /** How the request is signed: valid, or one of the ways a signature is wrong. */
  sign: string;
  headers?: Record<string, string>;
  body:
    | { text: string }
    | { base64: string }
    | { repeat: string; times: number; prefix?: string; suffix?: string };
  slow?: { chunks: number; delayMs: number };
  chunked?: boolean;
  expect: number;
}

const corpus = readFileSync(join(import.meta.dirname, 'hostile', 'corpus.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as HostileCase);

const secret = newSecret();
const otherSecret = newSecret();
const cleanups = cleanupsAfter('all');

function bodyOf(body: HostileCase['body']): Buffer {
  if ('text' in body) return Buffer.from(body.text, 'utf8');
  if ('base64' in body) return Buffer.from(body.base64, 'base64');
  return Buffer.concat([
    Buffer.from(body.prefix ?? ''),
    Buffer.alloc(body.times, body.repeat),
    Buffer.from(body.suffix ?? ''),
  ]);
}

function signatureHeaders(mode: string, id: string, body: Buffer): Record<string, string> {
  const text = body.toString('latin1');
  const now = new Date();
  switch (mode) {
    case 'none':
      return {};
    case 'stale':
      return officialHeaders(secret, id, text, new Date(now.getTime() - 600_000));
    case 'future':
      return officialHeaders(secret, id, text, new Date(now.getTime() + 600_000));
    case 'wrong-secret':
      return officialHeaders(otherSecret, id, text, now);
    case 'other-body':
      return { ...officialHeaders(secret, id, `${text} `, now) };
    case 'other-id':
      return { ...officialHeaders(secret, `${id}-other`, text, now), 'webhook-id': id };
    case 'garbage':
      return {
        ...officialHeaders(secret, id, text, now),
        'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      };
    case 'empty-signature':
      return { ...officialHeaders(secret, id, text, now), 'webhook-signature': '' };
    case 'bad-timestamp':
      return { ...officialHeaders(secret, id, text, now), 'webhook-timestamp': 'now' };
    case 'v2-scheme': {
      const headers = officialHeaders(secret, id, text, now);
      return { ...headers, 'webhook-signature': headers['webhook-signature']!.replace('v1,', 'v2,') };
    }
    case 'injected':
      return {
        ...officialHeaders(secret, id, text, now),
        'webhook-signature': 'v1,abc%0d%0aX-Injected:%201 v1,=',
      };
    case 'huge-signature':
      return { ...officialHeaders(secret, id, text, now), 'webhook-signature': `v1,${'A'.repeat(65_536)}` };
    default:
      throw new Error(`unknown sign mode ${mode}`);
  }
}

async function send(server: ChildServer, item: HostileCase, index: number): Promise<number> {
  const body = bodyOf(item.body);
  const id = `hostile-${index}`;
  // Sign the exact bytes: the official library signs strings, so bytes that are not UTF-8 are signed via latin1.
  const signed =
    item.sign === 'valid'
      ? (() => {
          const headers = officialHeaders(secret, id, body.toString('utf8'));
          return Buffer.from(body.toString('utf8'), 'utf8').equals(body) ? headers : signLatin1(id, body);
        })()
      : signatureHeaders(item.sign, id, body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...signed,
    ...(item.headers ?? {}),
  };
  if (headers['content-type'] === '') delete headers['content-type'];
  if (!item.chunked) headers['content-length'] = String(body.length);
  const chunks = item.slow
    ? Array.from({ length: item.slow.chunks }, (_, i) =>
        body.subarray(
          Math.floor((i * body.length) / item.slow!.chunks),
          Math.floor(((i + 1) * body.length) / item.slow!.chunks),
        ),
      )
    : item.chunked
      ? Array.from({ length: Math.ceil(body.length / 65_536) }, (_, i) =>
          body.subarray(i * 65_536, (i + 1) * 65_536),
        )
      : [body];
  const response = await rawRequest(server.url, {
    method: 'POST',
    path: `/webhooks/${item.source ?? 'site'}`,
    headers,
    chunks,
    ...(item.slow ? { chunkDelayMs: item.slow.delayMs } : {}),
  });
  return response.status;
}

/** HMAC over raw bytes, for bodies that are not valid UTF-8 (what a sender of such bytes would compute). */
function signLatin1(id: string, body: Buffer): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]))
    .digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}

describe('hostile input', () => {
  it(`answers each of ${corpus.length} corpus requests and thousands of generated ones with its 4xx, storing nothing`, async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(200);
    const dir = tempDir('leadrelay-hostile-');
    cleanups.push(dir.cleanup);
    const dbFile = join(dir.path, 'leadrelay.db');
    const configFile = join(dir.path, 'leadrelay.yaml');
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1', request_timeout: '10s' },
        database: { url: `sqlite:${dbFile}` },
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
      }),
    );
    mkdirSync(join(dir.path, 'connectors'));
    writeFileSync(
      join(dir.path, 'connectors', 'hook.yaml'),
      stringify({ type: 'webhook', url: 'http://127.0.0.1:9/x' }),
    );
    const server = await startChildServer(configFile, { command: ['serve', '--no-worker'] });
    cleanups.push(() => server.child.kill('SIGKILL'));
    const pid = server.child.pid!;

    // Warm up with the kind of traffic to come, then take the baseline.
    for (let i = 0; i < 3; i++)
      for (const [index, item] of corpus.entries()) if (!item.slow) await send(server, item, index);
    const baseline = rssMiB(pid);

    const mismatches: string[] = [];
    for (const [index, item] of corpus.entries()) {
      const status = await send(server, item, index).catch((error: Error) => `error ${error.message}`);
      if (status !== item.expect) mismatches.push(`${item.name}: expected ${item.expect}, got ${status}`);
    }

    // Generated: arbitrary JSON that is not an event (422), arbitrary bytes (400/422), arbitrary signatures (401).
    let generated = 0;
    const unexpected: string[] = [];
    const post = async (body: Buffer, headers: Record<string, string>) => {
      generated++;
      const response = await fetch(`${server.url}/webhooks/site`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      await response.arrayBuffer();
      return response.status;
    };
    const signedHeaders = (id: string, body: Buffer) => signLatin1(id, body);
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
        const body = Buffer.from(JSON.stringify(value) ?? 'null');
        const status = await post(body, signedHeaders(`gen-json-${generated}`, body));
        if (status !== 422) unexpected.push(`json ${body.toString().slice(0, 80)} → ${status}`);
        return true;
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 400 }), async (bytes) => {
        const body = Buffer.from(bytes);
        const status = await post(body, signedHeaders(`gen-bytes-${generated}`, body));
        if (status !== 400 && status !== 422)
          unexpected.push(`bytes ${body.toString('hex').slice(0, 80)} → ${status}`);
        return true;
      }),
      { numRuns: 1000 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          id: fc.string({ maxLength: 40 }),
          timestamp: fc.oneof(fc.integer().map(String), fc.string({ maxLength: 12 })),
          signature: fc.string({ maxLength: 120 }),
        }),
        async (headers) => {
          const body = Buffer.from(JSON.stringify(leadEvent()));
          const clean = (value: string) => value.replace(/[^\x20-\x7e]/g, '');
          const status = await post(body, {
            'webhook-id': clean(headers.id) || 'x',
            'webhook-timestamp': clean(headers.timestamp),
            'webhook-signature': clean(headers.signature),
          });
          if (status !== 401) unexpected.push(`signature ${JSON.stringify(headers)} → ${status}`);
          return true;
        },
      ),
      { numRuns: 1000 },
    );

    const after = rssMiB(pid);
    const healthz = await fetch(`${server.url}/healthz`);
    const db = new SQLite(dbFile, { readonly: true });
    cleanups.push(() => db.close());
    const stored = (db.prepare('select count(*) as n from events').get() as { n: number }).n;
    // Still healthy: a valid event is accepted.
    const event = leadEvent();
    const body = JSON.stringify(event);
    const ok = await fetch(`${server.url}/webhooks/site`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...officialHeaders(secret, String(event.id), body) },
      body,
    });
    const growth = after - baseline;
    record({
      order: 3,
      scenario: 'hostile input',
      load: `${corpus.length} corpus requests (test/reliability/hostile/corpus.jsonl) + ${generated} generated by fast-check`,
      faults:
        'invalid JSON and UTF-8, wrong types, deep nesting, 1.5–10 MB bodies, slow bodies, __proto__/constructor keys, replayed/stale/forged signatures, header tricks, unicode names/emails, wrong content types, unknown sources',
      accepted: stored,
      delivered: 0,
      lost: 0,
      duplicated: 0,
      notes: `${corpus.length - mismatches.length}/${corpus.length} corpus answers as expected, ${unexpected.length} unexpected generated answers; ${stored} events stored; healthz ${healthz.status}, valid event then ${ok.status}; server RSS ${baseline.toFixed(0)} → ${after.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(0)}, limit +64)`,
    });
    expect(mismatches).toEqual([]);
    expect(unexpected.slice(0, 20)).toEqual([]);
    expect(stored).toBe(0);
    expect(healthz.status).toBe(200);
    expect(ok.status).toBe(202);
    expect(growth).toBeLessThan(64);
  });
});
