import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/util/logger.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { type RawRequest, rawPost } from './helpers/raw-request.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

// The webhook endpoint is public: what an unauthenticated sender can do to it
// must never stop signed senders. Attackers connect from 127.0.0.2 and up,
// signed senders from 127.0.0.1 (all of 127.0.0.0/8 is this machine).

const cleanups = cleanupsAfter('each');
const secret = newSecret();
const open: RawRequest[] = [];
afterEach(() => {
  for (const request of open.splice(0)) request.destroy();
});

async function start(server: Record<string, unknown>): Promise<TestService> {
  const service = await startTestService({ server, sources: { site: { verify: { secrets: [secret] } } } });
  cleanups.push(() => service.close());
  return service;
}

async function signedPost(service: TestService) {
  const event = leadEvent();
  const body = JSON.stringify(event);
  return service.post('site', body, officialHeaders(secret, String(event.id), body));
}

async function attacker(service: TestService, from: string, contentLength = 100_000): Promise<RawRequest> {
  const request = await rawPost(`${service.url}/webhooks/site`, { from, contentLength });
  open.push(request);
  return request;
}

describe('slow senders', () => {
  it('a body dribbled slower than min_body_rate is answered 408 within seconds, not at the request timeout', async () => {
    const service = await start({ min_body_rate: '1kb', body_timeout: '60s', request_timeout: '120s' });
    const slow = await attacker(service, '127.0.0.2');
    const started = Date.now();
    const dribble = setInterval(() => slow.write('x'), 200);
    try {
      const answer = await slow.answer;
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'request_timeout' });
      expect(JSON.parse(answer.body).message).toMatch(/too slowly/);
      // Caught by the rate (after its 2 s grace), far before the 60 s body deadline.
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      clearInterval(dribble);
    }
  });

  it('a body that keeps a fair rate but outlasts body_timeout is answered 408', async () => {
    const service = await start({ min_body_rate: 1, body_timeout: '3s' });
    const slow = await attacker(service, '127.0.0.2');
    const dribble = setInterval(() => slow.write('xxxxxxxxxx'), 100);
    try {
      const answer = await slow.answer;
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body).message).toMatch(/did not arrive within 3 s/);
    } finally {
      clearInterval(dribble);
    }
  });
});

describe('floods from one sender', () => {
  it('one client address holds at most max_inflight_per_client requests; signed senders elsewhere are served', async () => {
    const service = await start({ max_inflight_per_client: 4, max_inflight: 100 });
    const stalls = await Promise.all(Array.from({ length: 10 }, () => attacker(service, '127.0.0.2')));
    for (const stall of stalls) stall.write('{"id":');
    // Six of the ten are refused at once with 429; four hold their slots.
    await until(() => stalls.filter((stall) => stall.closed()).length === 6, 'six stalls refused');
    const refused = await Promise.all(stalls.filter((stall) => stall.closed()).map((stall) => stall.answer));
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'too_many_requests' });
    }
    for (let i = 0; i < 5; i++) expect((await signedPost(service)).status).toBe(202);
  });

  it('stalled uploads from one client hold at most a quarter of max_buffered; signed senders are still served', async () => {
    const service = await start({ max_buffered: '8mb', max_inflight_per_client: 100, body_limit: '1mb' });
    // Each declares 1 MB: the first two reserve the client's 2 MB, the rest are refused before a byte is read.
    const uploads = await Promise.all(
      Array.from({ length: 6 }, () => attacker(service, '127.0.0.3', 1_000_000)),
    );
    for (const upload of uploads) upload.write(Buffer.alloc(64 * 1024, 'x'));
    await until(() => uploads.filter((upload) => upload.closed()).length === 4, 'four uploads refused');
    for (const upload of uploads.filter((u) => u.closed())) {
      const answer = await upload.answer;
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'overloaded' });
    }
    for (let i = 0; i < 5; i++) expect((await signedPost(service)).status).toBe(202);
  });
});

describe('the admin login', () => {
  it('takes a small form only', async () => {
    const service = await startTestService(
      { sources: {} },
      { env: { LEADRELAY_ADMIN_TOKEN: 'a-long-enough-admin-token-for-tests' } },
    );
    cleanups.push(() => service.close());
    const response = await fetch(`${service.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${'x'.repeat(64 * 1024)}`,
    });
    expect(response.status).toBe(413);
  });
});

describe('replays', () => {
  const chatwootSecret = 'chatwoot-webhook-secret';
  const chatwootPayload = readFileSync(
    join(import.meta.dirname, 'fixtures', 'sources', 'chatwoot-conversation-status-changed-open.json'),
    'utf8',
  );
  /** Signed as Chatwoot signs: HMAC-SHA256 over `{timestamp}.{body}`; the delivery id is not signed. */
  const chatwootHeaders = (body: string, delivery: string) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const digest = createHmac('sha256', chatwootSecret).update(`${timestamp}.${body}`).digest('hex');
    return {
      'x-chatwoot-signature': `sha256=${digest}`,
      'x-chatwoot-timestamp': timestamp,
      'x-chatwoot-delivery': delivery,
    };
  };

  it('a captured Chatwoot request re-sent with a new X-Chatwoot-Delivery is a duplicate, not a new event', async () => {
    const service = await startTestService({
      sources: { chat: { format: 'chatwoot', verify: { secrets: [chatwootSecret] } } },
    });
    cleanups.push(() => service.close());
    const first = await service.post('chat', chatwootPayload, chatwootHeaders(chatwootPayload, 'dlv-1'));
    expect(first.status).toBe(202);
    const replayed = await service.post('chat', chatwootPayload, chatwootHeaders(chatwootPayload, 'dlv-2'));
    expect(replayed.status).toBe(200);
    expect(replayed.json.id).toBe(first.json.id);
    expect(await service.count('events')).toBe(1);
  });

  it('a webhook-id header keys an event only when the signature covers it', async () => {
    const service = await startTestService({
      sources: {
        shop: {
          verify: { scheme: 'hmac', header: 'X-Sig', secrets: ['shop-secret'] },
        },
      },
    });
    cleanups.push(() => service.close());
    const { id: _id, ...withoutId } = leadEvent();
    const body = JSON.stringify(withoutId);
    const signature = createHmac('sha256', 'shop-secret').update(body).digest('hex');
    const response = await service.post('shop', body, { 'x-sig': signature, 'webhook-id': 'replayable' });
    expect(response.status).toBe(422);
    expect(JSON.stringify(response.json.details)).toMatch(
      /only when the Standard Webhooks signature covers it/,
    );
    expect(await service.count('events')).toBe(0);
  });
});

describe('one signed payload cannot stall ingestion', () => {
  const transcriptSource = {
    format: 'mapped',
    verify: { secrets: [secret] },
    map: {
      id: '{{ payload.id }}',
      type: [{ value: 'conversation.escalated' }],
      fields: { 'conversation.id': '{{ payload.id }}' },
      messages: { from: 'payload.messages', role: 'user', text: '{{ item.text }}' },
    },
  };
  const payload = (messages: number) =>
    JSON.stringify({
      id: `conv-${messages}-${Math.random()}`,
      messages: Array.from({ length: messages }, (_, i) => ({ text: `message ${i}` })),
    });
  const signed = (service: TestService, body: string) => {
    const id = JSON.parse(body).id as string;
    return service.post('chat', body, officialHeaders(secret, id, body));
  };

  it('refuses a transcript over the limit before mapping it, naming the limit', async () => {
    const service = await startTestService({ sources: { chat: transcriptSource } });
    cleanups.push(() => service.close());
    const response = await signed(service, payload(1_001));
    expect(response.status).toBe(422);
    expect(response.json).toMatchObject({ error: 'too_many_items' });
    expect(response.json.message).toMatch(/1001 transcript items .*at most 1000/);
    expect(await service.count('events')).toBe(0);
    expect((await signed(service, payload(1_000))).status).toBe(202);
  });

  it('a canonical event over the transcript limits is refused with the limit named', async () => {
    const service = await start({});
    const many = leadEvent({
      conversation: {
        id: 'c1',
        messages: Array.from({ length: 1_001 }, () => ({ role: 'user', text: 'hi' })),
      },
    });
    const long = leadEvent({
      conversation: { id: 'c2', messages: [{ role: 'user', text: 'x'.repeat(20_001) }] },
    });
    for (const [event, limit] of [
      [many, 'at most 1000 messages'],
      [long, 'at most 20000 characters'],
    ] as const) {
      const body = JSON.stringify(event);
      const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
      expect(response.status).toBe(422);
      expect(JSON.stringify(response.json.details)).toContain(limit);
    }
  });

  it('maps a long transcript in slices, giving the event loop back between them', async () => {
    const { applySourceMapInSlices, sourceMapSchema } = await import('../src/ingest/source-mapping.ts');
    const map = sourceMapSchema.parse(transcriptSource.map);
    let turns = 0;
    let turning = true;
    const turn = () => {
      turns++;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const body = payload(500);
    const mapped = await applySourceMapInSlices(map, JSON.parse(body), () => undefined, body, {}, 0);
    turning = false;
    expect(mapped.kind).toBe('event');
    // With a zero slice it yields after every item: the loop turned at least once per item.
    expect(turns).toBeGreaterThanOrEqual(500);
  });

  it('a template whose output would escape the memory limit fails the mapping, not the service', async () => {
    const service = await startTestService({
      sources: {
        chat: {
          ...transcriptSource,
          map: {
            ...transcriptSource.map,
            fields: {
              'conversation.id': '{{ payload.id }}',
              'metadata.blob':
                '{% assign x = payload.messages %}{% for i in (1..24) %}{% assign x = x | json %}{% endfor %}{{ x | size }}',
            },
          },
        },
      },
    });
    cleanups.push(() => service.close());
    const response = await signed(service, payload(50));
    expect(response.status).toBe(422);
    expect(response.json).toMatchObject({ error: 'mapping_failed' });
    expect(await service.count('events')).toBe(0);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });
});

describe('what is left on disk', () => {
  it('a new SQLite database and its WAL are readable by their owner only', async () => {
    const service = await start({});
    expect((await signedPost(service)).status).toBe(202);
    for (const file of [service.dbFile, `${service.dbFile}-wal`]) {
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    }
  });
});

describe('clients that leave', () => {
  it('a client that disconnects mid-body is counted as client_aborted, not logged as a failure', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const service = await startTestService(
      { sources: { site: { verify: { secrets: [secret] } } } },
      { logger: createLogger({ level: 'debug', destination }) },
    );
    cleanups.push(() => service.close());
    const leaving = await attacker(service, '127.0.0.2', 1_000);
    leaving.write('{"id":"x",');
    await until(async () => (await fetch(`${service.url}/healthz`)).ok);
    leaving.destroy();
    const aborted = async () =>
      /leadrelay_events_received_total\{[^}]*outcome="client_aborted"[^}]*\} 1/.test(
        await (await fetch(`${service.url}/metrics`)).text(),
      );
    await until(aborted, 'the abort is counted');
    expect(lines.filter((line) => JSON.parse(line).level >= 50)).toEqual([]);
    expect(lines.some((line) => line.includes('client left before its body ended'))).toBe(true);
  });
});

describe('the admin surface', () => {
  const TOKEN = 'open-internet-admin-token-0123456789';
  const login = (service: TestService, token: string, headers: Record<string, string> = {}) =>
    fetch(`${service.url}/admin/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: `token=${encodeURIComponent(token)}`,
      redirect: 'manual',
    });

  it('serve refuses to start with a short admin token', async () => {
    await expect(
      startTestService({ sources: {} }, { env: { LEADRELAY_ADMIN_TOKEN: 'abc' } }),
    ).rejects.toThrow(/LEADRELAY_ADMIN_TOKEN is 3 characters; use at least 20/);
  });

  it('after ten wrong tokens an address gets 429 for a while, on the login form and the API alike', async () => {
    const service = await startTestService({ sources: {} }, { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } });
    cleanups.push(() => service.close());
    for (let i = 0; i < 10; i++) expect((await login(service, `wrong-${i}`)).status).toBe(401);
    const blocked = await login(service, TOKEN);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const api = await fetch(`${service.url}/admin/api/queue`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(api.status).toBe(429);
  });

  it('the session cookie is Secure when a trusted proxy says the browser used HTTPS', async () => {
    const service = await startTestService(
      { server: { trusted_proxies: ['127.0.0.1/32'] }, sources: {} },
      { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } },
    );
    cleanups.push(() => service.close());
    const viaTls = await login(service, TOKEN, { 'x-forwarded-proto': 'https' });
    expect(viaTls.status).toBe(303);
    expect(viaTls.headers.get('set-cookie')).toMatch(/;\s*secure/i);
    const plain = await login(service, TOKEN);
    expect(plain.headers.get('set-cookie')).not.toMatch(/;\s*secure/i);
  });
});
