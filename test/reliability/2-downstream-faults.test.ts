import { afterAll, describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../../connectors/webhook/sandbox.ts';
import { newSecret, startTestService } from '../helpers/harness.ts';
import { until } from '../helpers/until.ts';
import { events, postSigned } from './common.ts';
import { record } from './results.ts';

const EVENTS = 400;
const CONTACTS = 40;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('downstream faults', () => {
  it('delivers every event once, in order per contact, when 30% of attempts fail', async () => {
    const secret = newSecret();
    const sandbox = await WebhookSandbox.start();
    cleanups.push(() => sandbox.close());
    // Timeouts answer 503 after the connector gave up: the destination kept nothing.
    // (A destination that keeps a request it answers too late gets it again: webhooks are at least once, deduplicated by webhook-id.)
    sandbox.failRandomly(0.3, [
      { status: 500 },
      { status: 429, retryAfter: '1' },
      { status: 503, delayMs: 1_200 },
      { reset: true },
      { status: 502, delayMs: 300 },
    ]);
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
        delivery: {
          poll_interval: '100ms',
          retry_schedule: [
            '0s',
            '100ms',
            '200ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
            '300ms',
          ],
        },
      },
      {
        worker: true,
        connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in`, timeout: '500ms', concurrency: 8 } },
      },
    );
    cleanups.push(() => service.close());
    const tag = `faults${Date.now()}`;
    const all = events(EVENTS, CONTACTS, tag);
    const ids: string[] = [];
    for (const event of all) {
      const reply = await postSigned(service.url, secret, event);
      expect(reply.status).toBe(202);
      ids.push(String(reply.json.id));
    }
    const started = Date.now();
    await until(
      async () => {
        const rows = await service.store.db
          .selectFrom('deliveries')
          .select('status')
          .where('status', '!=', 'delivered')
          .execute();
        return rows.length === 0;
      },
      'every delivery delivered',
      90_000,
    );
    const seconds = (Date.now() - started) / 1000;
    const counts = new Map<string, number>();
    for (const request of sandbox.delivered()) counts.set(request.id, (counts.get(request.id) ?? 0) + 1);
    const lost = ids.filter((id) => !counts.has(id));
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    // Order per contact: the event numbers of one contact's successful deliveries only go up.
    const lastByContact = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const request of sandbox.delivered()) {
      const index = Number(new RegExp(`msg ${tag} (\\d+)`).exec(request.body)?.[1]);
      const contact = String(index % CONTACTS);
      if ((lastByContact.get(contact) ?? -1) > index) outOfOrder.push(`${contact}: ${index}`);
      lastByContact.set(contact, index);
    }
    const failures = sandbox.received.filter((r) => r.status < 200 || r.status >= 300).length;
    const kinds = new Map<number, number>();
    for (const r of sandbox.received)
      if (r.status !== 200) kinds.set(r.status, (kinds.get(r.status) ?? 0) + 1);
    record({
      order: 2,
      scenario: 'downstream faults',
      load: `${EVENTS} events over ${CONTACTS} contacts to a webhook sandbox (concurrency 8); all delivered after ${seconds.toFixed(0)} s`,
      faults: `30% of ${sandbox.received.length} attempts failed (${failures}): ${[...kinds].map(([s, n]) => `${s === 0 ? 'reset' : s}×${n}`).join(', ')}; incl. 429 Retry-After 1, timeouts (1.2 s vs 500 ms timeout), slow 502s`,
      accepted: ids.length,
      delivered: counts.size,
      lost: lost.length,
      duplicated,
      notes: `${outOfOrder.length} out-of-order deliveries per contact`,
    });
    expect({ lost, duplicated, outOfOrder }).toEqual({ lost: [], duplicated: 0, outOfOrder: [] });
    expect(failures).toBeGreaterThan(EVENTS * 0.2);
  }, 150_000);
});
