import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { expireOrphanedLeases } from '../src/outbox/expire-orphaned-leases.ts';
import { DEAD_AFTER_MS } from '../src/outbox/worker-registry.ts';
import { type ChildServer, startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import {
  describeEachDialect,
  newSecret,
  startTestService,
  type TestService,
  untilAllDelivered,
} from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

/** Ingest runs in this process (no worker); workers run as `leadrelay worker` child processes. */
async function setup(connector: Record<string, unknown>, delivery: Record<string, unknown> = {}) {
  const sandbox = await WebhookSandbox.start();
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '100ms', ...delivery },
    },
    { connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in`, ...connector } } },
  );
  cleanups.push(
    () => sandbox.close(),
    () => service.close(),
  );
  return { sandbox, service };
}

async function postMany(service: TestService, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const event = leadEvent();
    const body = JSON.stringify(event);
    const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
    ids.push(String(response.json.id));
  }
  return ids;
}

async function worker(service: TestService): Promise<ChildServer> {
  const child = await startChildServer(service.configFile, {
    command: ['worker'],
    ready: '"msg":"worker started"',
  });
  cleanups.push(() => child.child.kill('SIGKILL'));
  return child;
}

function countById(sandbox: WebhookSandbox): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of sandbox.delivered()) counts.set(request.id, (counts.get(request.id) ?? 0) + 1);
  return counts;
}

describe('worker processes', () => {
  it('two workers on one SQLite file never deliver a row twice', async () => {
    const { sandbox, service } = await setup({ concurrency: 4 });
    const ids = await postMany(service, 300);
    const [a, b] = await Promise.all([worker(service), worker(service)]);
    await until(() => sandbox.delivered().length >= 300, 'all delivered');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = countById(sandbox);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].filter((n) => n > 1)).toEqual([]);
    // Both took part: the claim shares the work rather than one worker taking it all.
    const owners = await service.store.db.selectFrom('attempts').select('request_summary').execute();
    expect(owners).toHaveLength(300);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  });

  it('delivers the rows of a SIGKILLed worker after its lease ends, duplicating only what was in flight', async () => {
    const { sandbox, service } = await setup({ concurrency: 5 }, { lease: '1s' });
    sandbox.failRandomly(1, [{ status: 200, delayMs: 400 }]);
    const ids = await postMany(service, 40);
    const doomed = await worker(service);
    await until(() => sandbox.received.length >= 10, 'some deliveries started');
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const startedBeforeKill = sandbox.received.length;
    sandbox.failRandomly(0, []);

    await worker(service);
    await untilAllDelivered(service);
    const counts = countById(sandbox);
    const duplicated = [...counts.entries()].filter(([, n]) => n > 1).map(([id]) => id);
    console.log(
      `SIGKILL mid-delivery: ${startedBeforeKill} requests had started, ${duplicated.length} events delivered twice`,
    );
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    // Only deliveries the dead worker had in flight can repeat: at most its concurrency.
    expect(duplicated.length).toBeLessThanOrEqual(5);
    // Its leased rows waited for the 1 s lease to run out before being taken over.
    for (const id of duplicated) {
      const [first, second] = sandbox.received.filter((r) => r.id === id).map((r) => r.at);
      expect(second! - first!).toBeGreaterThanOrEqual(900);
    }
  });

  it('on SIGTERM stops claiming, finishes what is in flight, releases the rest and exits 0', async () => {
    const { sandbox, service } = await setup({ concurrency: 2 });
    sandbox.failRandomly(1, [{ status: 200, delayMs: 600 }]);
    await postMany(service, 10);
    const child = await worker(service);
    await until(async () => {
      const leased = await service.store.db
        .selectFrom('deliveries')
        .select('id')
        .where('status', '=', 'leased')
        .execute();
      return leased.length === 2;
    }, 'two deliveries in flight');
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    const rows = await service.store.db.selectFrom('deliveries').select(['status', 'lease_owner']).execute();
    const delivered = rows.filter((r) => r.status === 'delivered').length;
    expect(delivered).toBe(2);
    expect(rows.filter((r) => r.status === 'pending' && r.lease_owner === null)).toHaveLength(8);
    expect(rows.filter((r) => r.status === 'leased')).toHaveLength(0);
  });
});

describeEachDialect('a dead worker’s deliveries', () => {
  // Heartbeats every 2 s, dead after 8 s unseen (src/outbox/worker-registry.ts):
  // a takeover about 10 s after the death, whatever the lease.
  const RECOVERY_TARGET_MS = 15_000;

  it('are retried by a live worker within 15 s of a SIGKILL, long before the 1-minute lease ends', async () => {
    const { sandbox, service } = await setup({ concurrency: 4 }, { lease: '1m' });
    // The doomed worker's calls hang, so it dies mid-delivery.
    sandbox.failRandomly(1, [{ status: 200, delayMs: 20_000 }]);
    const ids = await postMany(service, 4);
    const doomed = await worker(service);
    await until(() => sandbox.peakConcurrency >= 4, 'four deliveries in flight');
    sandbox.failRandomly(0, []);
    await worker(service);
    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    const retried = () => sandbox.delivered().filter((request) => request.at >= killedAt);
    await until(() => retried().length >= 4, 'the four retried by the live worker', 120_000);
    const gaps = retried().map((request) => request.at - killedAt);
    console.log(
      `SIGKILL with a 1-minute lease: retried ${Math.min(...gaps)}–${Math.max(...gaps)} ms after the death`,
    );
    expect(
      retried()
        .map((request) => request.id)
        .sort(),
    ).toEqual([...ids].sort());
    expect(Math.max(...gaps)).toBeLessThan(RECOVERY_TARGET_MS);
    await untilAllDelivered(service);
    const rows = await service.store.db.selectFrom('deliveries').select(['status', 'attempts']).execute();
    expect(rows).toEqual(ids.map(() => ({ status: 'delivered', attempts: 2 })));
  });

  it('are only those of a worker seen and then silent: an owner with no heartbeat row keeps its lease', async () => {
    const { service } = await setup({});
    const [silent, unknown, live] = await postMany(service, 3);
    const { db, adapter } = service.store;
    const clock = Number(
      (await sql<{ now: number }>`select ${adapter.clockMs()} as now`.execute(db)).rows[0]!.now,
    );
    await db
      .insertInto('workers')
      .values([
        { id: 'silent', last_seen: clock - 20_000 },
        { id: 'live', last_seen: clock },
      ])
      .execute();
    const leaseEnds = Date.now() + 60_000;
    for (const [eventId, owner] of [
      [silent, 'silent'],
      [unknown, 'never-beat'],
      [live, 'live'],
    ] as const)
      await db
        .updateTable('deliveries')
        .set({ status: 'leased', lease_owner: owner, lease_expires_at: leaseEnds })
        .where('event_id', '=', eventId!)
        .execute();

    const ended = await expireOrphanedLeases(db, {
      self: 'me',
      now: Date.now(),
      unseenForMs: DEAD_AFTER_MS,
      clockMs: adapter.clockMs(),
    });
    expect(ended).toBe(1);
    const rows = await db
      .selectFrom('deliveries')
      .select(['lease_owner', 'lease_expires_at'])
      .orderBy('lease_owner')
      .execute();
    expect(rows.map((row) => [row.lease_owner, Number(row.lease_expires_at) < Date.now()])).toEqual([
      ['live', false],
      ['never-beat', false],
      ['silent', true],
    ]);
  });

  it('are not taken from a live worker whose call outlasts the dead-after time', async () => {
    // A call of 12 s, within the connector's timeout but longer than the 8 s dead-after.
    const { sandbox, service } = await setup({ concurrency: 1, timeout: '30s' }, { lease: '1m' });
    sandbox.failNext(1, { status: 200, delayMs: 12_000 });
    const [id] = await postMany(service, 1);
    const slow = await worker(service);
    await until(() => sandbox.peakConcurrency >= 1, 'the slow call started');
    // A second live worker beats the whole time the first one's call runs.
    await worker(service);
    await until(() => sandbox.delivered().length >= 1, 'the slow call answered', 120_000);
    await untilAllDelivered(service);
    expect(sandbox.received.map((request) => request.id)).toEqual([id]);
    const [row] = await service.store.db.selectFrom('deliveries').select(['status', 'attempts']).execute();
    expect(row).toEqual({ status: 'delivered', attempts: 1 });
    slow.child.kill('SIGTERM');
    expect(await slow.exited).toBe(0);
  });
});
