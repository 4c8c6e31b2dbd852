import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { prune } from '../src/outbox/prune.ts';
import { batches } from './fixtures/connectors/batch-recorder.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { runCli } from './helpers/cli.ts';
import { newSecret, startTestService, startWorker, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

const cli = runCli;

async function post(service: TestService, event: Record<string, unknown> = leadEvent()) {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  return String(response.json.id);
}

describe('operator commands', () => {
  it('lists a dead delivery, retries it with `deliveries retry --dead`, and shows the event timeline', async () => {
    const sandbox = await WebhookSandbox.start();
    const config = {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '50ms' },
    };
    const service = await startTestService(config, {
      worker: true,
      connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in` } },
    });
    cleanups.push(
      () => sandbox.close(),
      () => service.close(),
    );
    sandbox.failNext(1, { status: 422, body: '{"message":"field company is required"}' });
    const id = await post(service);
    const status = async () =>
      (
        await service.store.db
          .selectFrom('deliveries')
          .select('status')
          .where('event_id', '=', id)
          .executeTakeFirstOrThrow()
      ).status;
    await until(async () => (await status()) === 'dead', 'dead');

    const list = await cli(['deliveries', 'list', '--status', 'dead', '--config', service.configFile]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id\s+event\s+type\s+connector\s+status/);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('field company is required');
    const json = JSON.parse(
      (await cli(['deliveries', 'list', '--json', '--config', service.configFile])).stdout,
    );
    expect(json).toMatchObject([{ eventId: id, status: 'dead', connector: 'hook' }]);

    const retry = await cli([
      'deliveries',
      'retry',
      '--dead',
      '--connector',
      'hook',
      '--config',
      service.configFile,
    ]);
    expect(retry.stdout.trim()).toBe('1 dead delivery queued again');
    await until(async () => (await status()) === 'delivered', 'delivered after retry');

    const shown = await cli(['events', 'show', id, '--config', service.configFile]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('→ hook: delivered');
    expect(shown.stdout).toMatch(/dead 422 .*field company is required/);
    expect(shown.stdout).toMatch(/delivered 200/);

    const replay = await cli(['events', 'replay', id, '--config', service.configFile]);
    expect(replay.stdout).toMatch(/queued again for hook/);
    await until(() => sandbox.delivered().length === 2, 'replayed');
    expect(sandbox.delivered().map((r) => r.id)).toEqual([id, id]);

    expect((await cli(['events', 'show', 'ev_nope', '--config', service.configFile])).code).toBe(1);
    expect((await cli(['deliveries', 'retry', 'abc', '--config', service.configFile])).code).toBe(1);
  });
});

describe('batching', () => {
  it('hands a batch connector up to batch_size due rows per call, with per-item outcomes', async () => {
    batches.length = 0;
    const service = await startTestService(
      { sources: { site: { verify: { secrets: [secret] } } }, routes: [{ on: '*', to: ['crm'] }] },
      {
        connectors: {
          crm: {
            type: join(import.meta.dirname, 'fixtures', 'connectors', 'batch-recorder.ts'),
            batch_size: 10,
          },
        },
      },
    );
    cleanups.push(() => service.close());
    const ids: string[] = [];
    for (let i = 0; i < 25; i++)
      ids.push(
        await post(service, leadEvent({ contact: { email: i === 7 ? 'bad@x.example' : `p${i}@x.example` } })),
      );
    // Start the worker only now, so all 25 rows are due together.
    cleanups.push(await startWorker(service));
    await until(async () => {
      const open = await service.store.db
        .selectFrom('deliveries')
        .select('id')
        .where('status', 'in', ['pending', 'leased'])
        .execute();
      return open.length === 0;
    }, 'all finished');
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(ids);
    const rows = await service.store.db
      .selectFrom('deliveries')
      .select(['event_id', 'status', 'last_error'])
      .execute();
    expect(rows.filter((r) => r.status === 'dead')).toEqual([
      { event_id: ids[7], status: 'dead', last_error: 'rejected by the batch API' },
    ]);
  });
});

describe('retention', () => {
  it('prunes delivered rows and their attempts after their age, in batches, keeping dead and pending rows', async () => {
    const service = await startTestService({
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
    });
    cleanups.push(() => service.close());
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await post(service));
    const db = service.store.db;
    const all = await db.selectFrom('deliveries').select('id').orderBy('id').execute();
    const old = Date.now() - 40 * 86_400_000;
    await db
      .updateTable('deliveries')
      .set({ status: 'delivered', updated_at: old })
      .where('id', '<=', all[9]!.id)
      .execute();
    await db
      .updateTable('deliveries')
      .set({ status: 'dead', updated_at: old })
      .where('id', '=', all[10]!.id)
      .execute();
    for (const row of all) {
      await db
        .insertInto('attempts')
        .values({ delivery_id: row.id, started_at: old, duration_ms: 1, outcome: 'delivered' })
        .execute();
    }
    const pruned = await prune(db, {
      now: Date.now(),
      deliveredMs: 30 * 86_400_000,
      eventsMs: 90 * 86_400_000,
      batch: 3,
    });
    expect(pruned).toEqual({ deliveries: 10, events: 0 });
    expect(await service.count('deliveries')).toBe(2);
    expect(await service.count('attempts')).toBe(2);
    // Events stay (they hold the idempotency key) until their own, longer, retention.
    expect(await service.count('events')).toBe(12);
    await db
      .updateTable('events')
      .set({ received_at: Date.now() - 100 * 86_400_000 })
      .execute();
    const later = await prune(db, {
      now: Date.now(),
      deliveredMs: 30 * 86_400_000,
      eventsMs: 90 * 86_400_000,
    });
    expect(later).toEqual({ deliveries: 0, events: 10 });
  });
});
