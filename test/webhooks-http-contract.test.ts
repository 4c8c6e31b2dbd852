import http from 'node:http';
import net from 'node:net';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDialect, newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { rawPost } from './helpers/raw-request.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

// One row of SPEC §2's /webhooks table per test, on SQLite and on PostgreSQL.
const NOT_SIGNED = { error: 'invalid_signature', message: 'the request is not signed for this source' };

describeEachDialect('POST /webhooks/:source', (dialect) => {
  const secret = newSecret();
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      server: { body_limit: '2kb' },
      database: { busy_timeout: '100ms' },
      sources: {
        site: { verify: { scheme: 'standard-webhooks', secrets: [secret] } },
        office: { verify: { secrets: [secret] }, allow_ips: ['10.20.0.0/16'] },
      },
      routes: [
        { on: 'lead.qualified', to: ['hubspot', 'slack-sales'] },
        { on: 'feedback.submitted', when: 'feedback.rating <= 2', to: ['slack-support'] },
      ],
    });
  });
  afterAll(() => service.close());

  async function signedPost(event: Record<string, unknown>, source = 'site') {
    const body = JSON.stringify(event);
    return service.post(source, body, officialHeaders(secret, String(event.id), body));
  }

  async function totals() {
    return { events: await service.count('events'), deliveries: await service.count('deliveries') };
  }

  it('answers 202 with the id and one outbox row per routed connector when stored for the first time', async () => {
    const before = await totals();
    const response = await signedPost(leadEvent());
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ id: expect.stringMatching(/^ev_/), deliveries: 2 });
    expect(await totals()).toEqual({ events: before.events + 1, deliveries: before.deliveries + 2 });
    const rows = await service.store.db
      .selectFrom('deliveries')
      .select(['connector', 'status'])
      .where('event_id', '=', String(response.json.id))
      .orderBy('connector')
      .execute();
    expect(rows).toEqual([
      { connector: 'hubspot', status: 'pending' },
      { connector: 'slack-sales', status: 'pending' },
    ]);
  });

  it('answers 200 with the same body when the event id was already received, storing nothing twice', async () => {
    const event = leadEvent();
    const first = await signedPost(event);
    const before = await totals();
    const again = await signedPost(event);
    const changed = await signedPost({ ...event, contact: { email: 'other@acme.example' } });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(changed.status).toBe(200);
    expect(changed.json).toEqual(first.json);
    expect(await totals()).toEqual(before);
  });

  it('takes the webhook-id header as the idempotency key when the body has no id', async () => {
    const { id: _omitted, ...event } = leadEvent();
    const body = JSON.stringify(event);
    const headers = officialHeaders(secret, `msg_${Date.now()}`, body);
    const first = await service.post('site', body, headers);
    const second = await service.post('site', body, headers);
    expect([first.status, second.status]).toEqual([202, 200]);
    const stored = await service.store.db
      .selectFrom('events')
      .select(['external_id', 'payload'])
      .where('id', '=', String(first.json.id))
      .executeTakeFirstOrThrow();
    expect(stored.external_id).toBe(headers['webhook-id']);
    expect(JSON.parse(stored.payload).id).toBe(headers['webhook-id']);
  });

  it('routes by `when:` conditions, so an event may have no deliveries at all', async () => {
    const good = await signedPost({
      id: `fb_good_${Date.now()}`,
      type: 'feedback.submitted',
      feedback: { rating: 5 },
    });
    const bad = await signedPost({
      id: `fb_bad_${Date.now()}`,
      type: 'feedback.submitted',
      feedback: { rating: 1 },
    });
    expect(good.json.deliveries).toBe(0);
    expect(bad.json.deliveries).toBe(1);
  });

  it('answers 400 when the body is not valid JSON, writing nothing', async () => {
    const before = await totals();
    const body = '{"id": "evt_x", "type": ';
    const response = await service.post('site', body, officialHeaders(secret, 'evt_x', body));
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ error: 'invalid_json', message: expect.any(String) });
    expect(await totals()).toEqual(before);
  });

  it('answers 400 when the body is not valid UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from('{"id":"evt_bad_utf8","type":"lead.qualified","x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const headers = officialHeaders(secret, 'evt_bad_utf8', 'placeholder');
    // Sign the exact bytes: the official package would re-encode a string.
    const { standardWebhookHeaders } = await import('../src/util/standard-webhooks-signature.ts');
    const response = await service.post('site', body, {
      ...headers,
      ...standardWebhookHeaders(secret, 'evt_bad_utf8', body),
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/UTF-8/);
  });

  it('answers 401 for a missing signature, a wrong one, or a timestamp outside the tolerance', async () => {
    const before = await totals();
    const event = leadEvent();
    const body = JSON.stringify(event);
    const unsigned = await service.post('site', body);
    const wrong = await service.post('site', body, officialHeaders(newSecret(), String(event.id), body));
    const stale = await service.post(
      'site',
      body,
      officialHeaders(secret, String(event.id), body, new Date(Date.now() - 6 * 60_000)),
    );
    for (const response of [unsigned, wrong, stale]) {
      expect(response.status).toBe(401);
      expect(response.json).toEqual(NOT_SIGNED);
    }
    expect(await totals()).toEqual(before);
  });

  // Who may send is not told to whoever asks: a source that does not exist, an address not
  // in allow_ips and a bad signature all get the same answer (the log says which).
  it('answers an address outside allow_ips like an unsigned request, writing nothing', async () => {
    const before = await totals();
    const response = await signedPost(leadEvent(), 'office');
    expect(response.status).toBe(401);
    expect(response.json).toEqual(NOT_SIGNED);
    expect(await totals()).toEqual(before);
  });

  it('answers an unknown source exactly as a known one answers an unsigned request', async () => {
    const body = JSON.stringify(leadEvent());
    const unknown = await service.post('nope', body);
    const known = await service.post('site', body);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual(known.json);
    expect(unknown.status).toBe(known.status);
    // Signed for another source changes nothing.
    expect((await signedPost(leadEvent(), 'nope')).json).toEqual(NOT_SIGNED);
  });

  it('answers 413 for a body over the limit, whether declared or streamed', async () => {
    const before = await totals();
    const event = leadEvent({ padding: 'x'.repeat(3000) });
    const declared = await signedPost(event);
    expect(declared.status).toBe(413);
    expect(declared.json.error).toBe('payload_too_large');

    const streamed = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${service.url}/webhooks/site`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      request.on('response', (response) => resolve(response.statusCode ?? 0));
      request.on('error', reject);
      for (let i = 0; i < 10; i++) request.write('x'.repeat(500));
      request.end();
    });
    expect(streamed).toBe(413);
    expect(await totals()).toEqual(before);
  });

  it('lets a sender still writing megabytes past the limit read its 413 instead of a reset', async () => {
    // The sender pauses mid-body, as a slow network would: a server that
    // answers and closes at once would have its socket reset the writes after.
    const body = Buffer.alloc(4 * 1024 * 1024, 'a');
    const post = (declareLength: boolean) =>
      new Promise<{ status: number; errors: string[]; answeredBeforeBodyEnded: boolean }>((resolve) => {
        const errors: string[] = [];
        let status = 0;
        let bodyEnded = false;
        let answeredBeforeBodyEnded = false;
        const request = http.request(`${service.url}/webhooks/site`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(declareLength ? { 'content-length': String(body.length) } : {}),
          },
        });
        request.on('response', (response) => {
          status = response.statusCode ?? 0;
          answeredBeforeBodyEnded = !bodyEnded;
          response.resume();
        });
        request.on('error', (error) => errors.push(error.message));
        request.on('close', () => resolve({ status, errors, answeredBeforeBodyEnded }));
        const half = body.length / 2;
        request.write(body.subarray(0, half));
        setTimeout(() => {
          request.write(body.subarray(half));
          request.end(() => {
            bodyEnded = true;
          });
        }, 150);
      });
    for (const declareLength of [true, false]) {
      expect(await post(declareLength)).toEqual({ status: 413, errors: [], answeredBeforeBodyEnded: false });
    }
  });

  it.each([
    [
      '431 for headers past the limit',
      `POST /webhooks/site HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(70_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    ['400 for a request that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'malformed_request'],
  ])('answers %s, with a JSON reason like every other refusal', async (_label, raw, status, error) => {
    const answer = await new Promise<string>((resolve, reject) => {
      const { port } = new URL(service.url);
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(raw));
      const parts: Buffer[] = [];
      socket.on('data', (part: Buffer) => parts.push(part));
      socket.on('close', () => resolve(Buffer.concat(parts).toString('utf8')));
      socket.on('error', reject);
    });
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(body!)).toEqual({ error, message: expect.any(String) });
  });

  it('closes a refused connection even when the client keeps its own side open', async () => {
    const server = service.http!.server;
    const { port } = new URL(service.url);
    const socket = net.connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
    const answered = new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      socket.on('data', (part: Buffer) => parts.push(part));
      socket.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    });
    socket.write('HELLO THERE\r\n\r\n');
    expect(await answered).toMatch(/^HTTP\/1.1 400 /);
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
    await until(async () => (await connections()) === 0, 'the server closed its socket');
    socket.destroy();
  });

  it('answers 415 when the body is not declared as JSON', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    const response = await fetch(`${service.url}/webhooks/site`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...officialHeaders(secret, String(event.id), body) },
      body,
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('answers 422 listing each failing field path, writing nothing', async () => {
    const before = await totals();
    const response = await signedPost({
      id: 'evt_invalid',
      type: 'lead.qualified',
      contact: { name: 'No Email' },
      conversation: { messages: [{ role: 'robot', text: 'hi' }] },
      feedback: { rating: 9 },
    });
    expect(response.status).toBe(422);
    expect(response.json.error).toBe('invalid_event');
    const paths = (response.json.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(['contact.email', 'conversation.messages[0].role', 'feedback.rating']);
    expect(await totals()).toEqual(before);
  });

  it('keeps unknown fields and never answers 422 because of them', async () => {
    const response = await signedPost(
      leadEvent({ custom_field: { nested: [1, 2] }, contact: { email: 'x@y.example', shoe_size: 44 } }),
    );
    expect(response.status).toBe(202);
    const row = await service.store.db
      .selectFrom('events')
      .select('payload')
      .where('id', '=', String(response.json.id))
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.payload)).toMatchObject({
      custom_field: { nested: [1, 2] },
      contact: { shoe_size: 44 },
    });
  });

  // SQLite's write lock with busy_timeout; PostgreSQL has no such lock for a writer to time out on.
  it.skipIf(dialect === 'postgres')(
    'answers 503 when the store cannot durably accept the event, and recovers',
    async () => {
      const before = await totals();
      // Another process holds the write lock longer than database.busy_timeout.
      const other = new SQLite(service.dbFile);
      other.exec('begin exclusive');
      const refused = await signedPost(leadEvent());
      other.exec('rollback');
      other.close();
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ error: 'store_unavailable' });
      expect(JSON.stringify(refused.json)).not.toMatch(/at .*\.ts:\d+/);
      expect(await totals()).toEqual(before);
      expect((await signedPost(leadEvent())).status).toBe(202);
    },
  );

  it('serves /healthz and /readyz', async () => {
    const health = await fetch(`${service.url}/healthz`);
    const ready = await fetch(`${service.url}/readyz`);
    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
  });
});

describe('load shedding', () => {
  it('answers 429 with Retry-After while max_inflight requests are in progress', async () => {
    const secret = newSecret();
    const service = await startTestService({
      server: { max_inflight: 1 },
      sources: { site: { verify: { secrets: [secret] } } },
    });
    try {
      // The first request sends its headers and half its body, then waits: it holds the only slot.
      const slow = await rawPost(`${service.url}/webhooks/site`, { from: '127.0.0.2', contentLength: 100 });
      slow.write('{"id":');
      const signed = () => {
        const event = leadEvent();
        const body = JSON.stringify(event);
        return service.post('site', body, officialHeaders(secret, String(event.id), body));
      };
      // Until the slow request's headers have been read, the slot may still be free.
      let shed = await signed();
      await until(async () => {
        shed = await signed();
        return shed.status === 429;
      }, 'the slow request holds the only slot');
      expect(shed.headers.get('retry-after')).toBe('1');
      expect(shed.json.error).toBe('overloaded');
      slow.destroy();
      await until(
        async () => (await signed()).status === 202,
        'the slot is free again once the slow request is gone',
      );
    } finally {
      await service.close();
    }
  });
});

describe('GET /readyz', () => {
  it('answers 503 when the database does not answer', async () => {
    const service = await startTestService({ sources: {} });
    try {
      service.store.ping = async () => {
        throw new Error('disk gone');
      };
      const response = await fetch(`${service.url}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ status: 'not_ready', database: 'unavailable' });
    } finally {
      await service.close();
    }
  });
});
