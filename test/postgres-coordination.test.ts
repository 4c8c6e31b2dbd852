import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { shareRate } from '../src/outbox/delivery-worker.ts';
import { prune } from '../src/outbox/prune.ts';
import { storeEvents } from '../src/outbox/store-events.ts';
import { WorkerRegistry } from '../src/outbox/worker-registry.ts';
import { startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { freshPostgresSchema, newSecret, startTestService, TEST_DATABASE_URL } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const cleanups = cleanupsAfter('each');

describe('sharing a rate limit between workers', () => {
  it('gives each of n workers 1/n of the rate, stretching the window when the rate is below n', () => {
    const rate = { requests: 100, perMs: 10_000 };
    expect(shareRate(rate, 1)).toEqual(rate);
    expect(shareRate(rate, 3)).toEqual({ requests: 33, perMs: 10_000 });
    expect(shareRate({ requests: 1, perMs: 10_000 }, 3)).toEqual({ requests: 1, perMs: 30_000 });
    expect(shareRate({ requests: 2, perMs: 1000 }, 3)).toEqual({ requests: 1, perMs: 1500 });
    expect(shareRate(undefined, 3)).toBeUndefined();
  });
});

describe.skipIf(!TEST_DATABASE_URL)('coordination between processes on PostgreSQL', () => {
  it('migrates a schema of its own although another schema of the database has leadrelay tables', async () => {
    const first = await freshPostgresSchema();
    const second = await freshPostgresSchema();
    const stores = [await openDatabase(first.url), await openDatabase(second.url)];
    cleanups.push(
      () => first.drop(),
      () => second.drop(),
      () => Promise.all(stores.map((store) => store.close())),
    );
    expect(await migrateToLatest(stores[0]!.db as never)).toEqual([
      '0001-initial',
      '0002-raw-payloads',
      '0003-event-corrections',
      '0004-identities',
      '0005-people',
    ]);
    // kysely's migrator, left to itself, finds the first schema's tables by name and skips its own.
    expect(await migrateToLatest(stores[1]!.db as never)).toEqual([
      '0001-initial',
      '0002-raw-payloads',
      '0003-event-corrections',
      '0004-identities',
      '0005-people',
    ]);
    expect(await stores[1]!.db.selectFrom('deliveries').select('id').execute()).toEqual([]);
  });

  it('counts live workers by heartbeat: stale ones drop out, stopped ones remove themselves', async () => {
    const schema = await freshPostgresSchema();
    const store = await openDatabase(schema.url);
    cleanups.push(
      () => schema.drop(),
      () => store.close(),
    );
    await migrateToLatest(store.db as never);
    await store.db
      .insertInto('workers')
      .values({ id: 'long-dead', last_seen: Date.now() - 60_000 })
      .execute();
    const a = new WorkerRegistry(store, 'a');
    const b = new WorkerRegistry(store, 'b');
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    await a.start();
    await b.start();
    expect(b.count).toBe(2);
    await b.stop();
    await a.stop();
    const left = await store.db.selectFrom('workers').select('id').execute();
    expect(left.map((row) => row.id)).toEqual(['long-dead']);
  });

  it('retention prunes old delivered rows, then their events, keeping open and dead ones', async () => {
    const schema = await freshPostgresSchema();
    const store = await openDatabase(schema.url);
    cleanups.push(
      () => schema.drop(),
      () => store.close(),
    );
    await migrateToLatest(store.db as never);
    const old = Date.now() - 10 * 86_400_000;
    const events = ['a', 'b', 'c'].map((name) => ({
      id: `ev_${name}`,
      source: 'site',
      externalId: name,
      type: 'lead.qualified',
      receivedAt: old,
      occurredAt: null,
      payload: '{}',
      connectors: ['hook'],
      orderingKey: null,
    }));
    await storeEvents(store.db, events);
    await store.db
      .updateTable('deliveries')
      .set({ status: 'delivered' })
      .where('event_id', '=', 'ev_a')
      .execute();
    await store.db.updateTable('deliveries').set({ status: 'dead' }).where('event_id', '=', 'ev_b').execute();
    const pruned = await prune(store.db, {
      now: Date.now(),
      deliveredMs: 86_400_000,
      eventsMs: 86_400_000,
      batch: 1,
    });
    expect(pruned).toEqual({ deliveries: 1, events: 1 });
    const left = await store.db
      .selectFrom('deliveries')
      .select(['event_id', 'status'])
      .orderBy('id')
      .execute();
    expect(left).toEqual([
      { event_id: 'ev_b', status: 'dead' },
      { event_id: 'ev_c', status: 'pending' },
    ]);
  });

  it('a worker in another process starts a delivery at once on NOTIFY, not at its next poll', async () => {
    const secret = newSecret();
    const sandbox = await WebhookSandbox.start();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
        delivery: { poll_interval: '1m' },
      },
      { dialect: 'postgres', connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in` } } },
    );
    cleanups.push(
      () => sandbox.close(),
      () => service.close(),
    );
    const worker = await startChildServer(service.configFile, {
      command: ['worker'],
      ready: '"msg":"worker started"',
    });
    cleanups.push(() => worker.child.kill('SIGKILL'));
    // Past its first look at the (empty) outbox: the next poll is a minute away.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const event = leadEvent();
    const body = JSON.stringify(event);
    const sent = Date.now();
    const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
    expect(response.status).toBe(202);
    await until(() => sandbox.delivered().length === 1, 'delivered by the other process');
    // Well before the worker's one-minute poll: the notification woke it.
    expect(Date.now() - sent).toBeLessThan(30_000);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });
});
