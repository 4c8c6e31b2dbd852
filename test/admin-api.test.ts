import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { describeEachDialect, newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const TOKEN = 'admin-token-for-tests-0123456789';
const cleanups = cleanupsAfter('each');

async function post(service: TestService, event: Record<string, unknown>, source = 'site') {
  const body = JSON.stringify(event);
  const response = await service.post(source, body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

function api(service: TestService, token: string | null = TOKEN) {
  return async (method: 'GET' | 'POST', path: string) => {
    const response = await fetch(`${service.url}/admin/api${path}`, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
      json: (text ? JSON.parse(text) : {}) as Record<string, any>,
    };
  };
}

const baseConfig = {
  sources: { site: { verify: { secrets: [secret] } }, chat: { verify: { secrets: [secret] } } },
  routes: [
    { on: '*', to: ['hook'] },
    { on: 'lead.qualified', to: ['crm'] },
  ],
  delivery: { poll_interval: '50ms' },
};

describe('admin API: access', () => {
  it('is off (404, API and page) when no admin token is configured', async () => {
    const service = await startTestService(baseConfig);
    cleanups.push(() => service.close());
    for (const path of ['/admin/api/queue', '/admin/', '/admin/login']) {
      const response = await fetch(`${service.url}${path}`, { headers: { authorization: 'Bearer x' } });
      expect(response.status, path).toBe(404);
    }
  });

  it('answers 401 JSON without the token or with a wrong one, 200 with the right one', async () => {
    const service = await startTestService(baseConfig, { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } });
    cleanups.push(() => service.close());
    for (const path of ['/queue', '/events', '/nope']) {
      const missing = await api(service, null)('GET', path);
      expect(missing.status).toBe(401);
      expect(missing.json).toEqual({ error: 'unauthorized', message: expect.any(String) });
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await api(service, `${TOKEN}x`)('GET', '/queue')).status).toBe(401);
    expect((await api(service, TOKEN.slice(0, -1))('GET', '/queue')).status).toBe(401);
    const basic = await fetch(`${service.url}/admin/api/queue`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    });
    expect(basic.status).toBe(401);
    // A POST without the token changes nothing either.
    expect((await api(service, null)('POST', '/connectors/hook/retry-dead')).status).toBe(401);
    expect((await api(service)('GET', '/queue')).status).toBe(200);
    expect((await api(service)('GET', '/nope')).status).toBe(404);
  });
});

describeEachDialect('admin API: endpoints', () => {
  it('lists events newest first with type, source, email and time filters, paginated', async () => {
    const service = await startTestService(baseConfig, { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } });
    cleanups.push(() => service.close());
    const call = api(service);
    const a = await post(service, leadEvent({ contact: { email: 'Dana@Acme.example' } }));
    const b = await post(
      service,
      leadEvent({ type: 'conversation.escalated', contact: { email: 'x@y.example' } }),
    );
    const c = await post(service, leadEvent({ contact: { email: 'dana@acme.example' } }), 'chat');
    const d = await post(service, leadEvent({ contact: { email: 'other@acme.example' } }));
    // Spread receive times so "newest first" and the time range are unambiguous.
    const base = Date.parse('2026-11-20T10:00:00Z');
    for (const [i, id] of [a, b, c, d].entries()) {
      await service.store.db
        .updateTable('events')
        .set({ received_at: base + i * 60_000 })
        .where('id', '=', id)
        .execute();
    }

    const all = await call('GET', '/events');
    expect(all.status).toBe(200);
    expect(all.json.events.map((e: { id: string }) => e.id)).toEqual([d, c, b, a]);
    expect(all.json.events[0]).toMatchObject({
      id: d,
      source: 'site',
      type: 'lead.qualified',
      contactEmail: 'other@acme.example',
      receivedAt: base + 3 * 60_000,
    });
    expect(all.json.next).toBeNull();

    const ids = async (query: string) =>
      (await call('GET', `/events?${query}`)).json.events.map((e: { id: string }) => e.id);
    expect(await ids('email=DANA%40acme.example')).toEqual([c, a]);
    expect(await ids('type=conversation.escalated')).toEqual([b]);
    expect(await ids('source=chat')).toEqual([c]);
    expect(await ids('source=site&email=dana%40acme.example')).toEqual([a]);
    expect(await ids(`from=${base + 60_000}&to=2026-11-20T10:03:00Z`)).toEqual([c, b]);
    expect(await ids('email=nobody%40acme.example')).toEqual([]);

    const first = await call('GET', '/events?limit=3');
    expect(first.json.events.map((e: { id: string }) => e.id)).toEqual([d, c, b]);
    expect(first.json.next).toEqual(expect.any(String));
    const second = await call('GET', `/events?limit=3&cursor=${encodeURIComponent(first.json.next)}`);
    expect(second.json.events.map((e: { id: string }) => e.id)).toEqual([a]);
    expect(second.json.next).toBeNull();

    expect((await call('GET', '/events?limit=0')).status).toBe(400);
    expect((await call('GET', '/events?from=yesterday')).json).toMatchObject({ error: 'bad_request' });
    expect((await call('GET', '/events?cursor=junk')).status).toBe(400);
  });

  it('shows an event with deliveries and attempts, retries dead deliveries, replays, and reports the queue', async () => {
    const sandbox = await WebhookSandbox.start();
    const service = await startTestService(
      { ...baseConfig, routes: [{ on: '*', to: ['hook'] }] },
      {
        env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
        worker: true,
        connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in` } },
      },
    );
    cleanups.push(
      () => sandbox.close(),
      () => service.close(),
    );
    const call = api(service);
    sandbox.failNext(2, { status: 422, body: '{"message":"field company is required"}' });
    const first = await post(service, leadEvent());
    const second = await post(service, leadEvent());
    await until(
      async () => (await call('GET', '/deliveries?status=dead')).json.deliveries.length === 2,
      'dead',
    );

    const dead = await call('GET', '/deliveries?status=dead&connector=hook');
    expect(dead.json.deliveries).toHaveLength(2);
    expect(dead.json.deliveries[0]).toMatchObject({
      eventId: second,
      connector: 'hook',
      status: 'dead',
      lastError: expect.stringContaining('field company is required'),
    });
    expect((await call('GET', '/deliveries?connector=elsewhere')).json.deliveries).toEqual([]);
    expect((await call('GET', '/deliveries?status=lost')).status).toBe(400);

    const queue = await call('GET', '/queue');
    expect(queue.json).toMatchObject({
      byConnector: { hook: { pending: 0, leased: 0, delivered: 0, dead: 2 } },
      totals: { dead: 2 },
      oldestPendingAgeMs: null,
    });

    const shown = await call('GET', `/events/${first}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({ id: first, source: 'site', type: 'lead.qualified' });
    expect(shown.json.deliveries).toHaveLength(1);
    expect(shown.json.deliveries[0].attemptLog).toEqual([
      expect.objectContaining({ outcome: 'dead', statusCode: 422 }),
    ]);
    // By the platform's id too.
    expect((await call('GET', `/events/${shown.json.externalId}`)).json.id).toBe(first);
    expect((await call('GET', '/events/ev_nope')).status).toBe(404);

    // Retry one dead delivery by id.
    const firstDelivery = shown.json.deliveries[0].id as number;
    const retried = await call('POST', `/deliveries/${firstDelivery}/retry`);
    expect(retried).toMatchObject({ status: 202, json: { retried: 1, ids: [firstDelivery] } });
    await until(
      async () => (await call('GET', `/events/${first}`)).json.deliveries[0].status === 'delivered',
    );
    const again = await call('POST', `/deliveries/${firstDelivery}/retry`);
    expect(again).toMatchObject({ status: 409, json: { error: 'not_dead' } });
    expect((await call('POST', '/deliveries/999999/retry')).status).toBe(404);
    expect((await call('POST', '/deliveries/abc/retry')).status).toBe(400);

    // Retry every dead delivery of a connector.
    expect((await call('POST', '/connectors/other/retry-dead')).json).toEqual({
      retried: 0,
      connector: 'other',
    });
    expect((await call('POST', '/connectors/hook/retry-dead')).json).toEqual({
      retried: 1,
      connector: 'hook',
    });
    await until(async () => (await call('GET', '/queue')).json.totals.delivered === 2, 'both delivered');

    // Replay: a new delivery to the event's current routes.
    const replayed = await call('POST', `/events/${first}/replay`);
    expect(replayed.status).toBe(202);
    expect(replayed.json).toMatchObject({
      eventId: first,
      connectors: ['hook'],
      deliveries: [expect.any(Number)],
    });
    await until(() => sandbox.delivered().length === 3, 'replayed');
    expect((await call('POST', '/events/ev_nope/replay')).status).toBe(404);
  });

  it('reports the oldest pending age per connector', async () => {
    let now = Date.now() - 100_000;
    const service = await startTestService(baseConfig, {
      env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
      now: () => now,
    });
    cleanups.push(() => service.close());
    await post(service, leadEvent());
    now += 90_000;
    await post(service, leadEvent({ type: 'conversation.escalated' }));
    now += 10_000;
    const queue = await api(service)('GET', '/queue');
    expect(queue.json).toEqual({
      byConnector: {
        hook: { pending: 2, leased: 0, delivered: 0, dead: 0 },
        crm: { pending: 1, leased: 0, delivered: 0, dead: 0 },
      },
      totals: { pending: 3, leased: 0, delivered: 0, dead: 0 },
      oldestPendingAgeMs: 100_000,
      oldestPendingAgeMsByConnector: { hook: 100_000, crm: 100_000 },
    });
  });

  it('shows the configuration: file, last reload, last rejected change, connectors with types', async () => {
    const service = await startTestService(baseConfig, { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } });
    cleanups.push(() => service.close());
    const call = api(service);
    const status = await call('GET', '/config');
    expect(status.json).toMatchObject({
      file: service.configFile,
      loadedAt: service.config.current.loadedAt.toISOString(),
      lastRejectedChange: null,
      sources: ['site', 'chat'],
      routes: 2,
    });
    expect(status.json.connectors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'hook', type: 'webhook' }),
        expect.objectContaining({ name: 'crm', type: 'webhook' }),
      ]),
    );
    service.config.rejectChange('routes[0].to: no connector named "hubspott"');
    expect((await call('GET', '/config')).json.lastRejectedChange).toEqual({
      error: 'routes[0].to: no connector named "hubspott"',
      at: expect.any(String),
    });
  });
});
