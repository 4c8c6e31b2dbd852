import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startService } from '../src/service.ts';
import { type ChildServer, startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { describeEachDialect, newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';
import { postSigned } from './reliability/common.ts';

// `serve` runs its delivery worker in a worker thread of its own
// (src/delivery-thread/): these tests pin that the thread serving HTTP keeps
// answering while delivery work holds the delivery thread, and that wake-ups,
// metrics, logs, crashes and SIGTERM cross the boundary.

const secret = newSecret();
const cleanups = cleanupsAfter('each');
const ZOD = pathToFileURL(join(import.meta.dirname, '..', 'node_modules', 'zod', 'index.js')).href;

/**
 * A connector that appends what it does to `DIR/log` with the thread it runs
 * on, and does what the event's `metadata` asks: `block_ms` busy-waits (the
 * thread's event loop is stuck, as in a connector doing heavy synchronous
 * work), `wait_ms` waits without blocking, `fail` fails the attempt, and
 * `crash` throws outside any delivery once (a bug that ends the thread).
 */
const PROBE_CONNECTOR = `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { z } from '${ZOD}';

export default {
  type: 'probe',
  description: 'records deliveries; blocks, waits or crashes when the event asks',
  settings: z.strictObject({
    concurrency: z.number().int().default(4),
    timeout: z.string().optional(),
    dir: z.string(),
  }),
  create(name, settings) {
    return {
      name,
      type: 'probe',
      limits: { concurrency: settings.concurrency, rate: undefined, batchSize: 1 },
      preview: () => [],
      async deliver(context) {
        const asked = context.event.metadata ?? {};
        const mark = (what) =>
          appendFileSync(
            join(settings.dir, 'log'),
            JSON.stringify({ what, id: context.eventId, source: context.source, at: Date.now(), thread: threadId, attempt: context.attempt, checkAfter: context.earlierAttemptsEndedBy }) + '\\n',
          );
        if (asked.crash && !existsSync(join(settings.dir, 'crashed'))) {
          writeFileSync(join(settings.dir, 'crashed'), '');
          mark('crashing');
          setTimeout(() => {
            throw new Error('probe connector bug: thrown outside any delivery');
          });
          return new Promise(() => {});
        }
        if (asked.fail) throw new Error('probe refused the event, as asked');
        if (asked.block_ms) {
          mark('blocking');
          const end = Date.now() + asked.block_ms;
          while (Date.now() < end) {}
        }
        if (asked.wait_ms) {
          mark('waiting');
          await new Promise((resolve) => setTimeout(resolve, asked.wait_ms));
        }
        mark('delivered');
        return { summary: 'probed', data: { thread: threadId } };
      },
    };
  },
};
`;

interface Mark {
  what: 'blocking' | 'waiting' | 'crashing' | 'delivered';
  attempt?: number;
  /** What the connector was told about earlier attempts (DeliveryContext.earlierAttemptsEndedBy). */
  checkAfter?: number;
  id: string;
  source: string;
  at: number;
  thread: number;
}

/** The database, configuration and probe connector (in this process, without a worker), and its log. */
async function setup(delivery: Record<string, unknown> = {}, more: Record<string, unknown> = {}) {
  const dir = tempDir('leadrelay-delivery-thread-');
  cleanups.push(dir.cleanup);
  const connectorFile = join(dir.path, 'probe-connector.mjs');
  writeFileSync(connectorFile, PROBE_CONNECTOR);
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['probe'] }],
      delivery: { poll_interval: '200ms', ...delivery },
      ...more,
    },
    {
      connectors: {
        probe: { type: connectorFile, dir: dir.path },
        ops: { type: connectorFile, dir: dir.path },
      },
    },
  );
  cleanups.push(() => service.close());
  const marks = (): Mark[] => {
    const file = join(dir.path, 'log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Mark);
  };
  return { service, marks };
}

async function serve(service: TestService): Promise<ChildServer> {
  const child = await startChildServer(service.configFile);
  cleanups.push(async () => {
    child.child.kill('SIGKILL');
    await child.exited;
  });
  return child;
}

/** Waits until the child has logged `msg` `times` times (stdout lags behind the files the probe writes). */
async function untilLogged(child: ChildServer, msg: string, times = 1): Promise<void> {
  const count = () => child.output().split(`"msg":"${msg}`).length - 1;
  try {
    await until(() => count() >= times, `"${msg}" logged ${times}×`, 90_000);
  } catch (error) {
    const health = await fetch(`${child.url}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
      (response) => String(response.status),
      (failure: Error) => failure.message,
    );
    throw new Error(
      `${(error as Error).message}; /healthz now: ${health}; the server wrote:\n${child.output()}`,
    );
  }
}

async function post(url: string, event: Record<string, unknown>): Promise<string> {
  const reply = await postSigned(url, secret, event);
  expect(reply.status).toBe(202);
  return String(reply.json.id);
}

async function metric(url: string, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split('\n').find((sample) => line.test(sample));
  return found === undefined ? undefined : Number(found.split(' ').at(-1));
}

async function deliveryOf(service: TestService, eventId: string) {
  return service.store.db
    .selectFrom('deliveries')
    .select(['status', 'lease_owner'])
    .where('event_id', '=', eventId)
    .executeTakeFirstOrThrow();
}

describeEachDialect('serve runs its delivery worker off the HTTP thread', () => {
  it('answers /healthz and POST /webhooks while a delivery blocks the delivery thread, which then delivers both', async () => {
    const { service, marks } = await setup();
    const child = await serve(service);

    const blocked = await post(child.url, leadEvent({ metadata: { block_ms: 10_000 } }));
    await until(
      () => marks().some((m) => m.what === 'blocking' && m.id === blocked),
      'the delivery blocking',
    );
    const health = await fetch(`${child.url}/healthz`);
    expect(health.status).toBe(200);
    const second = await post(child.url, leadEvent());
    const answeredAt = Date.now();

    await until(
      () => marks().some((m) => m.what === 'delivered' && m.id === second),
      'the second event delivered',
      90_000,
    );
    const ended = marks().find((m) => m.what === 'delivered' && m.id === blocked)!;
    // Both answers came while the delivery thread's event loop was stuck.
    expect(answeredAt).toBeLessThan(ended.at);
    // Neither delivery ran on the main thread (threadId 0).
    expect(marks().every((m) => m.thread !== 0)).toBe(true);
    // Recorded once the thread commits the outcomes, a moment after the calls returned.
    await until(async () => {
      const rows = await Promise.all([blocked, second].map((id) => deliveryOf(service, id)));
      return rows.every((row) => row.status === 'delivered');
    }, 'both deliveries recorded');

    // Counted in the thread, shown by the main thread's /metrics.
    await until(
      async () =>
        (await metric(child.url, /^leadrelay_deliveries_total\{connector="probe",status="delivered"\}/)) ===
        2,
      '/metrics counting both deliveries',
    );
    expect(await metric(child.url, /^leadrelay_events_received_total\{.*outcome="accepted"\}/)).toBe(2);
    expect(
      await metric(child.url, /^leadrelay_delivery_attempt_duration_seconds_count\{connector="probe"\}/),
    ).toBe(2);
    expect(await metric(child.url, /^leadrelay_process_start_time_seconds /)).toBeGreaterThan(0);
    expect(child.output()).toContain('"msg":"delivery thread started"');
  });
});

describe('serve’s delivery thread', () => {
  it('on SIGTERM lets the delivery in flight finish, releases nothing it finished, and exits 0', async () => {
    const { service, marks } = await setup();
    const child = await serve(service);
    const slow = await post(child.url, leadEvent({ metadata: { wait_ms: 1_500 } }));
    await until(
      () => marks().some((m) => m.what === 'waiting' && m.id === slow),
      'the slow delivery started',
    );
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(marks().some((m) => m.what === 'delivered' && m.id === slow)).toBe(true);
    expect(await deliveryOf(service, slow)).toEqual({ status: 'delivered', lease_owner: null });
    const heartbeats = await service.store.db.selectFrom('workers').select('id').execute();
    expect(heartbeats).toEqual([]);
  });

  it('logs a crash of the delivery thread, puts its deliveries back at once and starts a new thread that delivers them', async () => {
    const { service, marks } = await setup({ lease: '10m' });
    const child = await serve(service);
    const doomed = await post(child.url, leadEvent({ metadata: { crash: true } }));
    await until(() => marks().some((m) => m.what === 'crashing'), 'the connector crashing');
    // HTTP keeps taking events while there is no delivery thread.
    const meanwhile = await post(child.url, leadEvent());
    await until(
      () => [doomed, meanwhile].every((id) => marks().some((m) => m.what === 'delivered' && m.id === id)),
      'both delivered by the new thread',
      90_000,
    );
    await untilLogged(child, 'delivery thread started', 2);
    // Released when the thread died: not after the 10-minute lease, nor the 8 s heartbeat takeover.
    await untilLogged(child, 'released the deliveries the delivery thread held');
    const output = child.output();
    expect(output).toContain('probe connector bug: thrown outside any delivery');
    expect(output).toContain('"msg":"the delivery thread ended unexpectedly');
    expect(output.match(/"msg":"delivery thread started"/g)).toHaveLength(2);
    expect(await metric(child.url, /^leadrelay_delivery_thread_restarts_total /)).toBe(1);
    child.child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(await deliveryOf(service, doomed)).toEqual({ status: 'delivered', lease_owner: null });
    // The dead thread's call may have written: the new thread is told so, and connectors check before redoing.
    const redone = marks().find((m) => m.what === 'delivered' && m.id === doomed);
    expect(redone?.attempt).toBeGreaterThanOrEqual(2);
    expect(redone?.checkAfter).toEqual(expect.any(Number));
  });

  it('takes a configuration change the main thread accepted, and raises ops alerts from the thread', async () => {
    const { service, marks } = await setup({ retry_schedule: ['0s'] });
    const child = await serve(service);
    const config = parse(readFileSync(service.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(service.configFile, stringify({ ...config, alerts: { to: 'ops' } }));
    await untilLogged(child, 'delivery thread switched to the reloaded configuration');
    const dead = await post(child.url, leadEvent({ metadata: { fail: true } }));
    await until(() => marks().some((m) => m.source === 'leadrelay-alerts'), 'the ops alert', 90_000);
    // The alert goes out as the outcome is decided; the row is dead once the thread commits it.
    await until(
      async () => (await deliveryOf(service, dead)).status === 'dead',
      'the delivery recorded dead',
    );
    await until(
      async () =>
        (await metric(
          child.url,
          /^leadrelay_alerts_total\{connector="probe",kind="dead",result="sent"\}/,
        )) === 1,
      '/metrics counting the alert',
    );
    // Reloaded once, by the main thread's watcher: the thread follows it.
    expect(child.output().match(/"msg":"configuration reloaded"/g)).toHaveLength(1);
  });
});

describe("startService({ workerIn: 'thread' })", () => {
  it('writes the thread’s log lines through the service logger and wakes the thread when an event is stored', async () => {
    const { service: files, marks } = await setup({ poll_interval: '1h' });
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const service = await startService({
      config: files.configFile,
      env: {},
      watch: false,
      logger,
      defaultMetrics: false,
      workerIn: 'thread',
    });
    cleanups.push(() => service.stop());
    expect(service.worker).toBeUndefined();
    await until(
      () => lines.some((line) => line.includes('"msg":"delivery thread started"')),
      'thread started',
    );
    // The hourly poll cannot be what delivers it: the commit's wake crosses to the thread.
    const id = await post(service.url, leadEvent());
    await until(() => marks().some((m) => m.what === 'delivered' && m.id === id), 'delivered', 90_000);
    expect(lines.find((line) => line.includes('delivery thread started'))).toContain('"thread":"delivery"');
  });

  it('refuses a test clock, which the thread could not use', async () => {
    const { service: files } = await setup();
    await expect(
      startService({ config: files.configFile, env: {}, workerIn: 'thread', now: () => 0 }),
    ).rejects.toThrow(/workerIn: 'thread' runs the worker on the real clock/);
  });
});
