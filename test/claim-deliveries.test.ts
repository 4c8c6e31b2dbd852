import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { claimDeliveries } from '../src/outbox/claim-deliveries.ts';
import { nextDueAt } from '../src/outbox/next-due.ts';
import { type EventToStore, storeEvents } from '../src/outbox/store-events.ts';
import { describeEachDialect, openDialectStore } from './helpers/harness.ts';

// What makes a delivery claimable, and when the worker should look again:
// run against the real claim and due-time statements on each database.

const ARRIVED = 1_000;
const slackWaits = { connectors: ['crm'], timeoutMs: 10_000 };

function event(id: string, connectors: string[], orderingKey: string | null = null): EventToStore {
  return {
    id,
    source: 'test',
    externalId: id,
    type: 'lead.qualified',
    receivedAt: ARRIVED,
    occurredAt: null,
    payload: JSON.stringify({ type: 'lead.qualified' }),
    connectors,
    orderingKey,
  };
}

describeEachDialect('claiming deliveries', (dialect) => {
  let store: Database;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await openDialectStore(dialect));
  });
  afterEach(() => cleanup());

  const claim = (connector: string, now: number, waitsFor?: typeof slackWaits) =>
    claimDeliveries(store.db, {
      connector,
      limit: 10,
      owner: 'test-worker',
      leaseMs: 60_000,
      now,
      takeTurns: store.adapter.claimsTakeTurns,
      waitsFor,
    });

  const setStatus = (id: number, status: 'pending' | 'delivered', nextAttemptAt = 0) =>
    store.db
      .updateTable('deliveries')
      .set({ status, next_attempt_at: nextAttemptAt, lease_owner: null, lease_expires_at: null })
      .where('id', '=', id)
      .execute();

  it('holds back a delivery that waits for the CRM delivery of its event until that one has finished', async () => {
    await storeEvents(store.db, [event('ev_1', ['crm', 'slack'])]);
    expect(await claim('slack', 2_000, slackWaits)).toEqual([]);

    const [crm] = await claim('crm', 2_000);
    expect(await claim('slack', 2_500, slackWaits)).toEqual([]);
    await setStatus(crm!.id, 'delivered');

    const [slack] = await claim('slack', 3_000, slackWaits);
    expect(slack?.eventId).toBe('ev_1');
    // Waiting spent no attempt.
    expect(slack?.attempts).toBe(1);
  });

  it('stops waiting once the timeout has passed since the event arrived', async () => {
    await storeEvents(store.db, [event('ev_1', ['crm', 'slack'])]);
    expect(await claim('slack', ARRIVED + slackWaits.timeoutMs - 1, slackWaits)).toEqual([]);
    expect(await claim('slack', ARRIVED + slackWaits.timeoutMs, slackWaits)).toHaveLength(1);
  });

  it('does not hold back deliveries of other events', async () => {
    await storeEvents(store.db, [event('ev_1', ['crm', 'slack']), event('ev_2', ['slack'])]);
    const claimed = await claim('slack', 2_000, slackWaits);
    expect(claimed.map((row) => row.eventId)).toEqual(['ev_2']);
  });

  it('reports a waiting delivery as due when its wait times out, not at once', async () => {
    await storeEvents(store.db, [event('ev_1', ['crm', 'slack'])]);
    await claim('crm', 2_000); // in flight, so nothing of the CRM's is due either
    expect(await nextDueAt(store.db, [{ name: 'slack', waitsFor: slackWaits }], 2_000)).toBe(
      ARRIVED + slackWaits.timeoutMs,
    );
  });

  it('reports the due time of the delivery a queued one waits behind, not the queued one’s own', async () => {
    // Two events for one contact: the first is retrying (due at 50 s), the second
    // was due on arrival but may not overtake it. Counting the second would make
    // the worker wake at once, claim nothing, and do so again, until 50 s.
    await storeEvents(store.db, [event('ev_1', ['crm'], 'contact-1')]);
    await storeEvents(store.db, [event('ev_2', ['crm'], 'contact-1')]);
    const [first] = await claim('crm', 2_000);
    expect(first?.eventId).toBe('ev_1');
    await setStatus(first!.id, 'pending', 50_000);

    expect(await claim('crm', 3_000)).toEqual([]);
    expect(await nextDueAt(store.db, [{ name: 'crm' }], 3_000)).toBe(50_000);
  });
});
