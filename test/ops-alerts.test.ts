import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { SlackSandbox } from '../sandboxes/slack/index.ts';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService, writeConnectorFiles } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

interface Alert {
  type: string;
  escalation: { reason: string; priority: string; summary: string };
  conversation: { url?: string };
  metadata: {
    leadrelay_alert: { kind: string; connector: string; suppressed: { dead: number; failing: number } };
  };
}

async function setup(delivery: Record<string, unknown>, alerts: Record<string, unknown>) {
  const hook = await WebhookSandbox.start();
  const ops = await WebhookSandbox.start();
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '20ms', ...delivery },
      alerts: { to: 'ops', admin_url: 'https://leadrelay.example/admin', ...alerts },
    },
    {
      worker: true,
      random: () => 0.5,
      connectors: {
        hook: { type: 'webhook', url: `${hook.url}/in` },
        ops: { type: 'webhook', url: `${ops.url}/ops` },
      },
    },
  );
  cleanups.push(
    () => hook.close(),
    () => ops.close(),
    () => service.close(),
  );
  const alertsReceived = () => ops.delivered().map((request) => JSON.parse(request.body) as Alert);
  return { hook, ops, service, alertsReceived };
}

async function post(service: TestService) {
  const event = leadEvent();
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

describe('ops alerts', () => {
  it('posts a dead delivery through the alert connector, with the error (masked), the fix and the admin link; rate-limited', async () => {
    // A window long enough for two more deaths on a loaded machine (600 ms was not).
    const { hook, ops, service, alertsReceived } = await setup({}, { min_interval: '10s' });
    hook.failNext(3, { status: 422, body: 'contact lead@acme.example is invalid' });
    const first = await post(service);
    await until(() => alertsReceived().length === 1, 'first alert');
    const [alert] = alertsReceived();
    expect(alert!.type).toBe('conversation.escalated');
    expect(alert!.escalation).toMatchObject({ reason: 'Delivery to hook is dead', priority: 'high' });
    expect(alert!.escalation.summary).toContain(`of event ${first} to "hook" is dead`);
    expect(alert!.escalation.summary).toContain('contact [email] is invalid');
    expect(alert!.escalation.summary).toContain('leadrelay deliveries retry --dead --connector hook');
    expect(alert!.escalation.summary).toContain('Admin: https://leadrelay.example/admin');
    expect(alert!.conversation.url).toBe('https://leadrelay.example/admin');
    expect(alert!.metadata.leadrelay_alert).toMatchObject({ kind: 'dead', connector: 'hook' });

    // Two more within min_interval are held back, then reported together when it ends.
    await post(service);
    await post(service);
    await until(
      async () =>
        (await service.store.db.selectFrom('deliveries').select('id').where('status', '=', 'dead').execute())
          .length === 3,
      'three dead',
    );
    expect(alertsReceived()).toHaveLength(1);
    await until(() => alertsReceived().length === 2, 'summary alert after min_interval');
    const summary = alertsReceived()[1]!;
    expect(ops.delivered()[1]!.at - ops.delivered()[0]!.at).toBeGreaterThanOrEqual(9_000);
    expect(summary.metadata.leadrelay_alert.suppressed).toEqual({ dead: 2, failing: 0 });
    expect(summary.escalation.summary).toMatch(/2 more dead deliveries/);
  });

  it('opens the circuit breaker after failing for after_failing_for, probes at an interval, resumes on success', async () => {
    const { hook, service, alertsReceived } = await setup(
      {
        retry_schedule: ['0s', ...Array(200).fill('30ms')],
        breaker: { after_failing_for: '300ms', probe_interval: '250ms' },
      },
      { min_interval: '1m' },
    );
    hook.failRandomly(1, [{ status: 503 }]);
    const ids = [await post(service), await post(service), await post(service)];

    await until(
      () => alertsReceived().some((a) => a.metadata.leadrelay_alert.kind === 'failing'),
      'failing alert',
    );
    const failing = alertsReceived().find((a) => a.metadata.leadrelay_alert.kind === 'failing')!;
    expect(failing.escalation.reason).toMatch(/^hook has been failing for/);
    expect(failing.escalation.summary).toContain('HTTP 503');
    expect(failing.escalation.summary).toContain('leadrelay deliveries retry --dead --connector hook');

    // Open: about one request per probe_interval instead of one per 30 ms per delivery.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = hook.received.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const during = hook.received.length - before;
    expect(during).toBeGreaterThanOrEqual(2);
    expect(during).toBeLessThanOrEqual(6);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/leadrelay_connector_breaker_open\{connector="hook"\} 1/);

    // The destination recovers: the next probe succeeds and everything is delivered.
    hook.failRandomly(0, []);
    await until(async () => {
      const rows = await service.store.db
        .selectFrom('deliveries')
        .select('status')
        .where('event_id', 'in', ids)
        .execute();
      return rows.every((row) => row.status === 'delivered');
    }, 'all delivered after recovery');
    await until(
      () => alertsReceived().some((a) => a.metadata.leadrelay_alert.kind === 'recovered'),
      'recovered',
    );
    expect(await (await fetch(`${service.url}/metrics`)).text()).toMatch(
      /leadrelay_connector_breaker_open\{connector="hook"\} 0/,
    );
    // Only one failing alert for the whole run of failures.
    expect(alertsReceived().filter((a) => a.metadata.leadrelay_alert.kind === 'failing')).toHaveLength(1);
  });

  it('never alerts about the alert connector through itself', async () => {
    const ops = await WebhookSandbox.start();
    cleanups.push(() => ops.close());
    // Events are routed to the alert connector itself, which refuses them.
    ops.failNext(1, { status: 400 });
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['ops'] }],
        delivery: { poll_interval: '20ms' },
        alerts: { to: 'ops' },
      },
      { worker: true, connectors: { ops: { type: 'webhook', url: `${ops.url}/ops` } } },
    );
    cleanups.push(() => service.close());
    await post(service);
    await until(
      async () =>
        (await service.store.db.selectFrom('deliveries').select('status').executeTakeFirst())?.status ===
        'dead',
      'dead',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Only the refused delivery itself: no alert about it was posted to it.
    expect(ops.received).toHaveLength(1);
  });

  it('renders as a Slack escalation in the ops channel, with the fix and a button to the admin page', async () => {
    const hook = await WebhookSandbox.start();
    const slack = await SlackSandbox.start({ channels: [{ id: 'C0OPS0001', name: 'leadrelay-ops' }] });
    cleanups.push(
      () => hook.close(),
      () => slack.close(),
    );
    hook.failNext(1, { status: 400, body: 'bad field' });
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
        delivery: { poll_interval: '20ms' },
        alerts: { to: 'ops-slack', admin_url: 'https://leadrelay.example/admin' },
      },
      {
        worker: true,
        connectors: {
          hook: { type: 'webhook', url: `${hook.url}/in` },
          'ops-slack': { type: 'slack', token: slack.token, base_url: slack.url, channel: '#leadrelay-ops' },
        },
      },
    );
    cleanups.push(() => service.close());
    await post(service);
    await until(() => slack.messagesIn('#leadrelay-ops').length === 1, 'slack alert');
    const text = slack.render(slack.messagesIn('#leadrelay-ops')[0]!);
    expect(text).toContain('Delivery to hook is dead');
    expect(text).toContain('HTTP 400');
    expect(text).toContain('leadrelay deliveries retry --dead --connector hook');
    expect(text).toContain('https://leadrelay.example/admin');
  });

  it('posts a delivery that found a second record of one person, with both record links; rate-limited, the rest counted', async () => {
    const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 1000 });
    const ops = await WebhookSandbox.start();
    cleanups.push(
      () => hubspot.close(),
      () => ops.close(),
    );
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: ['lead.qualified', 'conversation.escalated'], to: ['hubspot'] }],
        delivery: { poll_interval: '20ms' },
        alerts: { to: 'ops', min_interval: '10s', admin_url: 'https://leadrelay.example/admin' },
      },
      {
        worker: true,
        connectors: {
          hubspot: { type: 'hubspot', access_token: 'pat-sandbox', base_url: hubspot.url },
          ops: { type: 'webhook', url: `${ops.url}/ops` },
        },
      },
    );
    cleanups.push(() => service.close());
    const send = async (event: Record<string, unknown>) => {
      const body = JSON.stringify(event);
      const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
      expect(response.status).toBe(202);
    };
    const deliveredCount = async () =>
      (
        await service.store.db
          .selectFrom('deliveries')
          .select('id')
          .where('status', '=', 'delivered')
          .execute()
      ).length;
    // Three people each reached HubSpot first by phone; their emails are already on other contacts.
    for (let i = 0; i < 3; i++) {
      hubspot.state.createContact({ email: `person${i}@acme.example` });
      await send(
        leadEvent({
          type: 'conversation.escalated',
          contact: { phone: `+1 415 555 01${50 + i}` },
          conversation: { id: `conv_${i}` },
        }),
      );
    }
    await until(async () => (await deliveredCount()) === 3, 'the phone-first contacts');
    for (let i = 0; i < 3; i++)
      await send(
        leadEvent({ contact: { email: `person${i}@acme.example` }, conversation: { id: `conv_${i}` } }),
      );
    await until(async () => (await deliveredCount()) === 6, 'the three conflicting deliveries');

    const conflicts = () =>
      ops
        .delivered()
        .map((request) => JSON.parse(request.body) as Alert & { escalation: { reason: string } });
    await until(() => conflicts().length === 1, 'the first conflict alert');
    const [first] = conflicts();
    expect(first!.escalation.reason).toBe('Two hubspot records for one person');
    expect(first!.escalation.summary).toMatch(
      /\[email\] is on contact:\d+, but this person's earlier events went to contact:\d+/,
    );
    expect(
      first!.escalation.summary.match(/https:\/\/app\.hubspot\.com\/contacts\/\d+\/record\/0-1\/\d+/g),
    ).toHaveLength(2);
    expect(first!.escalation.summary).toContain('Admin: https://leadrelay.example/admin');
    expect(first!.metadata.leadrelay_alert).toMatchObject({ kind: 'conflict', connector: 'hubspot' });

    // The other two came within min_interval: held back, then reported together when it ends.
    await until(() => conflicts().length === 2, 'the held-back conflicts, counted', 30_000);
    expect(ops.delivered()[1]!.at - ops.delivered()[0]!.at).toBeGreaterThanOrEqual(9_000);
    const summary = conflicts()[1]!;
    expect(summary.escalation.reason).toBe('More records for one person in hubspot');
    expect(summary.escalation.summary).toContain(
      '2 more deliveries that found a second record for one person',
    );
    expect(summary.metadata.leadrelay_alert.suppressed).toEqual({ dead: 0, failing: 0, conflict: 2 });
  });

  it('rejects alerts.to naming a missing connector with file:line:col', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const main = {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      alerts: { to: 'ops-slak' },
    };
    writeConnectorFiles(dir.path, main, { 'ops-slack': { type: 'webhook', url: 'http://127.0.0.1:9/' } });
    const file = join(dir.path, 'leadrelay.yaml');
    writeFileSync(file, stringify(main));
    const error = await loadConfig(file, { env: {} }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(
      /leadrelay\.yaml:\d+:\d+: .*alerts\.to.*no connector named "ops-slak".*did you mean "ops-slack"/,
    );
  });
});
