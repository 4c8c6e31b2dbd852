import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { redact, scrubText } from '../src/observability/redact.ts';
import { createLogger } from '../src/util/logger.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

async function sandbox(): Promise<WebhookSandbox> {
  const box = await WebhookSandbox.start();
  cleanups.push(() => box.close());
  return box;
}

async function post(service: TestService, event: Record<string, unknown> = leadEvent(), sign = secret) {
  const body = JSON.stringify(event);
  return service.post('site', body, officialHeaders(sign, String(event.id), body));
}

async function countWhere(
  service: TestService,
  table: 'deliveries' | 'attempts',
  column: string,
  value: string,
) {
  const row = await service.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(column as never, '=', value as never)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every sample must
 * belong to a family declared by `# TYPE`, labels must be well-formed and
 * values must be numbers. Throws on anything else.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3]);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, valueText] = sample;
    const family = [...types.keys()].find(
      (base) =>
        name === base ||
        (/_(bucket|sum|count)$/.test(name!) && name!.replace(/_(bucket|sum|count)$/, '') === base),
    );
    if (!family) throw new Error(`sample ${name} has no # TYPE`);
    const labels: Record<string, string> = {};
    if (labelText) {
      const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let at = 0;
      while (at < labelText.length) {
        pair.lastIndex = at;
        const match = pair.exec(labelText);
        if (!match) throw new Error(`bad labels in: ${line}`);
        labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        at = pair.lastIndex;
      }
    }
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client writes `Nan`).
    const special: Record<string, number> = {
      nan: Number.NaN,
      '+inf': Infinity,
      inf: Infinity,
      '-inf': -Infinity,
    };
    const value = special[valueText!.toLowerCase()] ?? Number(valueText);
    if (Number.isNaN(value) && valueText!.toLowerCase() !== 'nan') throw new Error(`bad value in: ${line}`);
    samples.push({ name: name!, labels, value });
  }
  return { types, samples };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected),
  )?.value;
}

describe('GET /metrics', () => {
  it('parses as Prometheus text and matches the database after accepted, duplicate, rejected events and deliveries', async () => {
    const hook = await sandbox();
    hook.failNext(1, { status: 503 });
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook', 'down'] }],
        delivery: { poll_interval: '50ms', retry_schedule: ['0s', '0s', '1h'] },
      },
      {
        worker: true,
        random: () => 0.5,
        connectors: {
          hook: { type: 'webhook', url: `${hook.url}/in` },
          // Nothing listens on port 9: these deliveries fail and wait an hour.
          down: { type: 'webhook', url: 'http://127.0.0.1:9/down' },
        },
      },
    );
    cleanups.push(() => service.close());

    const first = leadEvent();
    for (const event of [first, leadEvent(), leadEvent()])
      expect((await post(service, event)).status).toBe(202);
    expect((await post(service, first)).status).toBe(200);
    expect((await post(service, leadEvent(), newSecret())).status).toBe(401);
    const badJson = '{"id": "x",';
    expect((await service.post('site', badJson, officialHeaders(secret, 'x', badJson))).status).toBe(400);
    expect((await service.post('nope', '{}')).status).toBe(401);

    await until(
      async () => (await countWhere(service, 'deliveries', 'status', 'delivered')) === 3,
      'delivered',
    );
    await until(
      async () => (await countWhere(service, 'attempts', 'outcome', 'retry')) === 1 + 6,
      'retries recorded',
    );

    const response = await fetch(`${service.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(await response.text());

    expect(types.get('leadrelay_events_received_total')).toBe('counter');
    expect(types.get('leadrelay_delivery_attempt_duration_seconds')).toBe('histogram');
    expect(types.get('leadrelay_queue_depth')).toBe('gauge');
    expect(types.get('leadrelay_process_cpu_user_seconds_total')).toBe('counter');

    const events = 'leadrelay_events_received_total';
    expect(value(samples, events, { source: 'site', type: 'lead.qualified', outcome: 'accepted' })).toBe(
      await service.count('events'),
    );
    expect(value(samples, events, { source: 'site', type: 'lead.qualified', outcome: 'duplicate' })).toBe(1);
    expect(value(samples, events, { source: 'site', outcome: 'invalid_signature' })).toBe(1);
    expect(value(samples, events, { source: 'site', outcome: 'invalid_json' })).toBe(1);
    expect(value(samples, events, { source: '(unknown)', outcome: 'unknown_source' })).toBe(1);

    const deliveries = 'leadrelay_deliveries_total';
    for (const connector of ['hook', 'down']) {
      for (const status of ['delivered', 'retry', 'dead']) {
        const inDb = await service.store.db
          .selectFrom('attempts')
          .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('deliveries.connector', '=', connector)
          .where('attempts.outcome', '=', status as 'delivered')
          .executeTakeFirstOrThrow();
        expect(value(samples, deliveries, { connector, status }) ?? 0, `${connector} ${status}`).toBe(
          Number(inDb.n),
        );
      }
    }
    expect(value(samples, deliveries, { connector: 'hook', status: 'delivered' })).toBe(3);
    expect(value(samples, deliveries, { connector: 'hook', status: 'retry' })).toBe(1);
    expect(value(samples, 'leadrelay_delivery_attempt_duration_seconds_count', { connector: 'hook' })).toBe(
      4,
    );
    expect(
      value(samples, 'leadrelay_delivery_attempt_duration_seconds_bucket', { connector: 'hook', le: '+Inf' }),
    ).toBe(4);

    // Queue gauges come from the database at scrape time.
    expect(value(samples, 'leadrelay_queue_depth', { connector: 'down', status: 'pending' })).toBe(
      await countWhere(service, 'deliveries', 'status', 'pending'),
    );
    expect(value(samples, 'leadrelay_queue_depth', { connector: 'down', status: 'pending' })).toBe(3);
    expect(value(samples, 'leadrelay_queue_depth', { connector: 'hook', status: 'pending' })).toBe(0);
    expect(value(samples, 'leadrelay_queue_depth', { connector: 'hook', status: 'leased' })).toBe(0);
    const oldest = value(samples, 'leadrelay_queue_oldest_pending_age_seconds', { connector: 'down' })!;
    expect(oldest).toBeGreaterThan(0);
    expect(oldest).toBeLessThan(60);
    expect(value(samples, 'leadrelay_queue_oldest_pending_age_seconds', { connector: 'hook' })).toBe(0);
  });

  it('keeps each service’s counters apart (a registry per service)', async () => {
    const config = { sources: { site: { verify: { secrets: [secret] } } } };
    const one = await startTestService(config);
    const two = await startTestService(config);
    cleanups.push(
      () => one.close(),
      () => two.close(),
    );
    await one.post('nope', '{}');
    const read = async (service: TestService) =>
      value(
        parseExposition(await (await fetch(`${service.url}/metrics`)).text()).samples,
        'leadrelay_events_received_total',
        {
          outcome: 'unknown_source',
        },
      );
    expect(await read(one)).toBe(1);
    expect(await read(two)).toBeUndefined();
  });
});

describe('logs', () => {
  function capture() {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, destination };
  }

  async function deliverWithQuotedEmail(pii: boolean) {
    const { lines, destination } = capture();
    const hook = await sandbox();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
        delivery: { poll_interval: '50ms' },
      },
      {
        worker: true,
        logger: createLogger({ level: 'debug', destination, pii }),
        connectors: { hook: { type: 'webhook', url: `${hook.url}/in` } },
      },
    );
    cleanups.push(() => service.close());
    const event = leadEvent();
    const email = (event.contact as { email: string }).email;
    // The destination quotes the contact back in its error, as CRMs do.
    hook.failNext(1, { status: 422, body: `contact ${email} (phone +1 415 555 0100) is invalid` });
    const response = await post(service, event);
    const eventId = String(response.json.id);
    await until(() => lines.some((line) => line.includes('delivery is dead')), 'dead log line');
    return { lines, email, eventId };
  }

  it('masks emails and phones in every line, and ties delivery lines to event, delivery and connector', async () => {
    const { lines, email, eventId } = await deliverWithQuotedEmail(false);
    for (const line of lines) {
      JSON.parse(line);
      expect(line).not.toContain(email);
      expect(line).not.toContain('415 555 0100');
    }
    const dead = JSON.parse(lines.find((line) => line.includes('delivery is dead'))!);
    expect(dead).toMatchObject({ event_id: eventId, connector: 'hook', service: 'leadrelay' });
    expect(typeof dead.delivery_id).toBe('number');
    expect(dead.error).toContain('contact [email] (phone [phone]) is invalid');
    const accepted = JSON.parse(lines.find((line) => line.includes('webhook accepted'))!);
    expect(accepted).toMatchObject({ event_id: eventId, type: 'lead.qualified' });
  });

  it('keeps personal data with LOG_PII=true', async () => {
    const { lines, email } = await deliverWithQuotedEmail(true);
    expect(lines.find((line) => line.includes('delivery is dead'))).toContain(email);
  });

  it('redacts sensitive keys at any depth, errors included, and leaves addresses and timestamps alone', () => {
    const error = Object.assign(new Error('HTTP 409: dana@acme.example exists'), { body: { email: 'x' } });
    const out = redact({
      event: { contact: { email: 'dana@acme.example' }, conversation: { messages: [{ text: 'hi' }] } },
      contact_email: 'dana@acme.example',
      err: error,
      url: 'http://127.0.0.1:9/in at 2026-11-25T10:04:00Z, id 1732550400000',
    }) as {
      event: { contact: unknown; conversation: { messages: unknown } };
      contact_email: unknown;
      err: { stack: string };
      url: string;
    };
    expect(out.event.contact).toBe('[redacted]');
    expect(out.event.conversation.messages).toBe('[redacted]');
    expect(out.contact_email).toBe('[redacted]');
    expect(out.err).toMatchObject({ type: 'Error', message: 'HTTP 409: [email] exists', body: '[redacted]' });
    expect(out.err.stack).not.toContain('dana@');
    expect(out.url).toBe('http://127.0.0.1:9/in at 2026-11-25T10:04:00Z, id 1732550400000');
    expect(scrubText('call (415) 555-0100 or +44 20 7946 0958')).toBe('call [phone] or [phone]');
  });
});
