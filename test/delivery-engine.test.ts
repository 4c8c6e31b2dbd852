import { expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import {
  describeEachDialect,
  newSecret,
  startTestService,
  startWorker,
  type TestService,
} from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const hookSecret = newSecret();
const cleanups = cleanupsAfter('each');

/** A service whose worker delivers to a fresh webhook sandbox. */
async function setup(
  options: {
    clock?: { now: number };
    connector?: Record<string, unknown>;
    delivery?: Record<string, unknown>;
    random?: () => number;
    /** false: no worker until the test starts one, so that what it posted is all due at once. */
    worker?: boolean;
  } = {},
) {
  const sandbox = await WebhookSandbox.start({ secret: hookSecret });
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '50ms', ...options.delivery },
    },
    {
      worker: options.worker ?? true,
      connectors: {
        hook: { type: 'webhook', url: `${sandbox.url}/in`, secret: hookSecret, ...options.connector },
      },
      ...(options.clock ? { now: () => options.clock!.now } : {}),
      random: options.random ?? (() => 0.5),
    },
  );
  cleanups.push(
    () => sandbox.close(),
    () => service.close(),
  );
  return { sandbox, service };
}

async function post(service: TestService, event: Record<string, unknown> = leadEvent()) {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

async function delivery(service: TestService, eventId: string) {
  return service.store.db
    .selectFrom('deliveries')
    .selectAll()
    .where('event_id', '=', eventId)
    .executeTakeFirstOrThrow();
}

/** Attempts that finished (the row's own counter also counts the one in progress). */
async function finished(service: TestService, eventId: string): Promise<number> {
  return (await attempts(service, eventId)).length;
}

async function attempts(service: TestService, eventId: string) {
  return service.store.db
    .selectFrom('attempts')
    .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
    .select(['attempts.outcome', 'attempts.status_code', 'attempts.error', 'attempts.request_summary'])
    .where('deliveries.event_id', '=', eventId)
    .orderBy('attempts.id')
    .execute();
}

describeEachDialect('delivery', () => {
  it('delivers an accepted event at once, signed, without waiting for the poll', async () => {
    const { sandbox, service } = await setup({ delivery: { poll_interval: '1m' } });
    const started = Date.now();
    const id = await post(service);
    await until(() => sandbox.delivered().length === 1, 'delivery');
    // Well before the one-minute poll, however loaded the machine: woken by ingest, not by the poll.
    expect(Date.now() - started).toBeLessThan(30_000);
    const [received] = sandbox.delivered();
    expect(received!.id).toBe(id);
    expect(received!.signatureValid).toBe(true);
    await until(async () => (await delivery(service, id)).status === 'delivered', 'status delivered');
    expect(await attempts(service, id)).toEqual([
      { outcome: 'delivered', status_code: 200, error: null, request_summary: `POST ${sandbox.url}/in` },
    ]);
  });

  it('retries on the schedule (±20% jitter) with an injectable clock, and records every attempt', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup({
      clock,
      delivery: { retry_schedule: ['0s', '10s', '1m'] },
      random: () => 1,
    });
    sandbox.failNext(2, { status: 503 });
    const id = await post(service);
    await until(async () => (await finished(service, id)) === 1, 'first attempt');
    let row = await delivery(service, id);
    // random() = 1 is the top of the jitter band: 10 s × 1.2.
    expect(row).toMatchObject({ status: 'pending', next_attempt_at: clock.now + 12_000 });
    expect(row.last_error).toMatch(/HTTP 503/);

    clock.now += 11_999;
    service.worker!.wake();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await finished(service, id)).toBe(1);

    clock.now += 1;
    service.worker!.wake();
    await until(async () => (await finished(service, id)) === 2, 'second attempt');
    row = await delivery(service, id);
    expect(row.next_attempt_at).toBe(clock.now + 72_000);

    clock.now += 72_000;
    service.worker!.wake();
    await until(async () => (await delivery(service, id)).status === 'delivered', 'delivered');
    expect((await attempts(service, id)).map((a) => [a.outcome, a.status_code])).toEqual([
      ['retry', 503],
      ['retry', 503],
      ['delivered', 200],
    ]);
  });

  it('gives up when the schedule is exhausted', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup({ clock, delivery: { retry_schedule: ['0s', '1s'] } });
    sandbox.failNext(5, { status: 500, body: 'upstream exploded' });
    const id = await post(service);
    await until(async () => (await finished(service, id)) === 1, 'first attempt');
    clock.now += 2_000;
    service.worker!.wake();
    await until(async () => (await delivery(service, id)).status === 'dead', 'dead');
    expect((await delivery(service, id)).last_error).toBe(
      `gave up after 2 attempts: HTTP 500 from ${new URL(sandbox.url).host}: upstream exploded`,
    );
  });

  it('honours Retry-After when it asks for longer than the schedule', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup({ clock, delivery: { retry_schedule: ['0s', '1s', '1s'] } });
    sandbox.failNext(1, { status: 429, retryAfter: '120' });
    const id = await post(service);
    await until(async () => (await finished(service, id)) === 1, 'first attempt');
    expect((await delivery(service, id)).next_attempt_at).toBe(clock.now + 120_000);
    clock.now += 119_000;
    service.worker!.wake();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sandbox.received).toHaveLength(1);
    clock.now += 1_000;
    service.worker!.wake();
    await until(
      async () => (await delivery(service, id)).status === 'delivered',
      'delivered after Retry-After',
    );
  });

  it.each([
    [400, 'dead'],
    [401, 'dead'],
    [403, 'dead'],
    [404, 'dead'],
    [422, 'dead'],
    [408, 'pending'],
    [409, 'pending'],
    [425, 'pending'],
    [429, 'pending'],
    [500, 'pending'],
    [503, 'pending'],
  ])('classifies HTTP %i as %s', async (status, expected) => {
    const { sandbox, service } = await setup({ delivery: { retry_schedule: ['0s', '1h'] } });
    sandbox.failNext(1, { status, body: `{"error":"destination says ${status}"}` });
    const id = await post(service);
    await until(async () => (await finished(service, id)) === 1, 'attempt');
    const row = await delivery(service, id);
    expect(row.status).toBe(expected);
    // The destination's own text is kept for the admin.
    expect(row.last_error).toContain(`destination says ${status}`);
  });

  it('retries connection resets and timeouts', async () => {
    const { sandbox, service } = await setup({
      connector: { timeout: '200ms' },
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    sandbox.failNext(1, { reset: true });
    sandbox.failNext(1, { delayMs: 1000 });
    const id = await post(service);
    await until(async () => (await delivery(service, id)).status === 'delivered', 'delivered');
    const log = await attempts(service, id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'retry', 'delivered']);
    expect(log[0]!.error).toMatch(/could not reach .*(ECONNRESET|other side closed|socket)/i);
    expect(log[1]!.error).toMatch(/timed out after 200 ms/);
  });

  it('keeps deliveries for one contact in order while an earlier one is retrying, but not behind a dead one', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup({
      clock,
      connector: { concurrency: 8 },
      delivery: { retry_schedule: ['0s', '5s'] },
    });
    sandbox.failNext(1, { status: 503 });
    const contact = { email: 'same@acme.example' };
    const first = await post(service, leadEvent({ contact }));
    await until(async () => (await finished(service, first)) === 1, 'first attempt failed');
    const later = [];
    for (let i = 0; i < 5; i++) later.push(await post(service, leadEvent({ contact })));
    const other = await post(service, leadEvent({ contact: { email: 'other@acme.example' } }));
    await until(() => sandbox.delivered().some((r) => r.id === other), 'unrelated contact delivered');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Nothing for the blocked contact went out while its first event waits to retry.
    expect(sandbox.delivered().map((r) => r.id)).toEqual([other]);

    clock.now += 6_000;
    service.worker!.wake();
    await until(() => sandbox.delivered().length === 7, 'all delivered');
    const order = sandbox
      .delivered()
      .map((r) => r.id)
      .filter((id) => id !== other);
    expect(order).toEqual([first, ...later]);

    // A dead delivery does not hold the key forever.
    sandbox.failNext(1, { status: 400 });
    const doomed = await post(service, leadEvent({ contact }));
    const after = await post(service, leadEvent({ contact }));
    await until(async () => (await delivery(service, after)).status === 'delivered', 'later one delivered');
    expect((await delivery(service, doomed)).status).toBe('dead');
  });

  it('keeps one person in order though the details change: a phone-only event retrying holds back the email that followed in its conversation, and that email’s next conversation', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup({
      clock,
      connector: { concurrency: 8 },
      delivery: { retry_schedule: ['0s', '5s'] },
    });
    sandbox.failNext(1, { status: 503 });
    const conversation = { id: 'conv_same_visitor', messages: [{ role: 'user', text: 'hi' }] };
    const phoneOnly = await post(service, leadEvent({ contact: { phone: '+1 415 555 0142' }, conversation }));
    await until(async () => (await finished(service, phoneOnly)) === 1, 'the phone-only event failed once');
    const withEmail = await post(
      service,
      leadEvent({ contact: { email: 'dana@acme.example' }, conversation }),
    );
    const nextConversation = await post(
      service,
      leadEvent({ contact: { email: 'Dana@Acme.example' }, conversation: { id: 'conv_next_week' } }),
    );
    const other = await post(service, leadEvent({ contact: { email: 'other@acme.example' } }));
    await until(() => sandbox.delivered().some((r) => r.id === other), 'unrelated person delivered');
    await until(
      async () => (await delivery(service, nextConversation)).status === 'pending',
      'the person’s later events still queued',
    );
    expect(sandbox.delivered().map((r) => r.id)).toEqual([other]);

    clock.now += 6_000;
    service.worker!.wake();
    await until(() => sandbox.delivered().length === 4, 'all delivered');
    expect(
      sandbox
        .delivered()
        .map((r) => r.id)
        .filter((id) => id !== other),
    ).toEqual([phoneOnly, withEmail, nextConversation]);
    const rows = await service.store.db
      .selectFrom('deliveries')
      .select(['event_id', 'ordering_key'])
      .execute();
    const keyOf = new Map(rows.map((row) => [row.event_id, row.ordering_key]));
    // One person: the key of the conversation that came first, for all three.
    expect([phoneOnly, withEmail, nextConversation].map((id) => keyOf.get(id))).toEqual(
      Array(3).fill('conversation:site:conv_same_visitor'),
    );
    expect(keyOf.get(other)).not.toBe('conversation:site:conv_same_visitor');
  });

  it('respects the connector rate limit', async () => {
    const { service } = await setup({
      connector: { rate_limit: { requests: 3, per: '500ms' }, concurrency: 10 },
    });
    for (let i = 0; i < 9; i++) await post(service);
    // When the worker started each request, by its own clock: what the limit governs. (Arrival
    // times at the receiver would also measure how late a loaded machine ran the receiver.)
    const started = () =>
      service.store.db.selectFrom('attempts').select('started_at').orderBy('started_at').execute();
    await until(async () => (await started()).length === 9, 'all nine attempts recorded');
    const times = (await started()).map((row) => Number(row.started_at));
    for (let i = 3; i < times.length; i++) {
      // Any four consecutive requests span the window, less what a loaded machine may add between
      // taking a slot and starting the attempt (a database read). A broken limit sends them together.
      expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(400);
    }
  });

  it('runs at most `concurrency` deliveries at once', async () => {
    const { sandbox, service } = await setup({ connector: { concurrency: 2 }, worker: false });
    sandbox.failNext(6, { status: 200, delayMs: 500 });
    // All six due before the worker starts: it must fill both slots and never a third,
    // however slowly a loaded machine posts them.
    for (let i = 0; i < 6; i++) await post(service);
    cleanups.push(await startWorker(service));
    await until(() => sandbox.delivered().length === 6, 'all delivered');
    expect(sandbox.peakConcurrency).toBe(2);
  });
});
