import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { type ChildServer, startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService, untilAllDelivered } from './helpers/harness.ts';
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
