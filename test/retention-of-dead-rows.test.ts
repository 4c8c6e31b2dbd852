import { expect, it } from 'vitest';
import type { DeliveryStatus } from '../src/db/tables.ts';
import { prune } from '../src/outbox/prune.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { describeEachDialect, newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { until } from './helpers/until.ts';

const DAY = 86_400_000;
const cleanups = cleanupsAfter('each');
const config = { sources: { site: { verify: { secrets: [newSecret()] } } }, routes: [] };

/** An event received `receivedDaysAgo` with one delivery that reached `status` `changedDaysAgo`, and its last attempt. */
async function storedEvent(
  service: TestService,
  id: string,
  delivery: { status: DeliveryStatus; changedDaysAgo: number; receivedDaysAgo: number },
): Promise<void> {
  const db = service.store.db;
  const received = Date.now() - delivery.receivedDaysAgo * DAY;
  const changed = Date.now() - delivery.changedDaysAgo * DAY;
  await db
    .insertInto('events')
    .values({
      id,
      source: 'site',
      external_id: id,
      type: 'lead.qualified',
      status: 'accepted',
      received_at: received,
      occurred_at: null,
      payload: JSON.stringify({ contact: { email: `${id}@acme.example` } }),
      raw_payload: null,
    })
    .execute();
  const row = await db
    .insertInto('deliveries')
    .values({
      event_id: id,
      connector: 'hook',
      ordering_key: `${id}@acme.example`,
      status: delivery.status,
      attempts: 9,
      next_attempt_at: changed,
      last_error: 'HTTP 400: rejected',
      created_at: received,
      updated_at: changed,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('attempts')
    .values({
      delivery_id: row.id,
      started_at: changed,
      duration_ms: 5,
      outcome: delivery.status === 'dead' ? 'dead' : 'retry',
    })
    .execute();
}

async function remaining(service: TestService): Promise<string[]> {
  const rows = await service.store.db.selectFrom('events').select('id').orderBy('id').execute();
  return rows.map((row) => row.id);
}

describeEachDialect('retention of dead rows', () => {
  it('keeps dead rows unless `retention.dead` is set, then deletes those dead longer, and their events after `events` age', async () => {
    const service = await startTestService(config);
    cleanups.push(() => service.close());
    await storedEvent(service, 'ev_dead_long_ago', {
      status: 'dead',
      changedDaysAgo: 40,
      receivedDaysAgo: 100,
    });
    await storedEvent(service, 'ev_dead_lately', { status: 'dead', changedDaysAgo: 2, receivedDaysAgo: 100 });
    await storedEvent(service, 'ev_pending', { status: 'pending', changedDaysAgo: 40, receivedDaysAgo: 100 });
    const ages = { now: Date.now(), deliveredMs: 30 * DAY, eventsMs: 90 * DAY };

    expect(await prune(service.store.db, ages)).toEqual({ deliveries: 0, events: 0 });
    expect(await service.count('deliveries')).toBe(3);

    // Counted from when the row died, not from when its event arrived.
    expect(await prune(service.store.db, { ...ages, deadMs: 30 * DAY, batch: 1 })).toEqual({
      deliveries: 1,
      events: 1,
    });
    expect(await remaining(service)).toEqual(['ev_dead_lately', 'ev_pending']);
    expect(await service.count('deliveries')).toBe(2);
    expect(await service.count('attempts')).toBe(2);
  });
});

it('the service applies `delivery.retention.dead` on its own (the retention loop)', async () => {
  const service = await startTestService(
    { ...config, delivery: { retention: { dead: '7d' } } },
    { worker: true },
  );
  cleanups.push(() => service.close());
  await storedEvent(service, 'ev_dead_long_ago', { status: 'dead', changedDaysAgo: 8, receivedDaysAgo: 100 });
  await storedEvent(service, 'ev_dead_lately', { status: 'dead', changedDaysAgo: 6, receivedDaysAgo: 100 });
  // The loop's first round runs 5 s after start.
  await until(async () => (await remaining(service)).length === 1, 'the long-dead row and its event deleted');
  expect(await remaining(service)).toEqual(['ev_dead_lately']);
  expect(await service.count('attempts')).toBe(1);
});
