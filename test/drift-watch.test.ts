import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { sourceReport } from '../src/drift/source-report.ts';
import type { RecentSourceEvent } from '../src/outbox/recent-source-events.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { runCli } from './helpers/cli.ts';
import { startTestService, type TestService } from './helpers/harness.ts';
import { chatwootHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

/*
 * The drift watch: a platform changes its payload mid-stream (Chatwoot's
 * `meta.sender` renamed, as a new Chatwoot version might), the mapping keeps
 * "working" but the contact's fields stop arriving. One ops alert, the admin
 * Sources page, `/metrics` and `leadrelay sources` all say so.
 */

const cleanups = cleanupsAfter('each');
const SECRET = 'chatwoot-webhook-secret-for-drift';
const TOKEN = 'drift-test-admin-token-0123456789';
const openFixture = JSON.parse(
  readFileSync(
    join(import.meta.dirname, 'fixtures', 'sources', 'chatwoot-conversation-status-changed-open.json'),
    'utf8',
  ),
);

function handOff(n: number, renamed: boolean): string {
  const payload = structuredClone(openFixture);
  payload.id = 5000 + n;
  payload.timestamp = openFixture.timestamp + n;
  if (renamed) {
    payload.meta.contact = payload.meta.sender;
    delete payload.meta.sender;
  }
  return JSON.stringify(payload);
}

async function postChatwoot(service: TestService, body: string): Promise<void> {
  const response = await service.post('chatwoot', body, chatwootHeaders(SECRET, body));
  expect(response.status).toBe(202);
}

describe('drift watch', () => {
  it("alerts once when a platform's payload changes mid-stream; the Sources page, /metrics and `leadrelay sources` show it", async () => {
    const ops = await WebhookSandbox.start();
    cleanups.push(() => ops.close());
    const service = await startTestService(
      {
        sources: { chatwoot: { format: 'chatwoot', verify: { secrets: [SECRET] } } },
        routes: [{ on: 'lead.qualified', to: ['ops'] }],
        alerts: { to: 'ops', min_interval: '0s' },
        drift_watch: { interval: '100ms' },
      },
      {
        env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
        connectors: { ops: { type: 'webhook', url: `${ops.url}/ops` } },
      },
    );
    cleanups.push(() => service.close());

    for (let n = 0; n < 50; n++) await postChatwoot(service, handOff(n, false));
    // A full window of the old shape: the watch runs (the metric exists) and finds nothing.
    await until(
      async () => /leadrelay_source_drift_warnings\{source="chatwoot"\} 0/.test(await metrics(service)),
      'a quiet round',
    );
    expect(ops.received).toEqual([]);

    for (let n = 50; n < 100; n++) await postChatwoot(service, handOff(n, true));
    await until(() => ops.received.length > 0, 'the drift alert');
    const alert = JSON.parse(ops.received[0]!.body);
    expect(alert.escalation.reason).toBe('What chatwoot sends has changed');
    // Raised by whichever round first saw it: part-way through the new shape, or after.
    expect(alert.escalation.summary).toMatch(/contact\.email is missing in \d+% of the last 50 events/);
    expect(alert.escalation.summary).toContain('leadrelay sources');
    expect(alert.metadata.leadrelay_alert).toMatchObject({ kind: 'drift', source: 'chatwoot' });

    // Still drifting: more rounds, more events of the new shape, no second alert.
    for (let n = 100; n < 105; n++) await postChatwoot(service, handOff(n, true));
    await service.drift!.check();
    await service.drift!.check();
    expect(await metrics(service)).toMatch(/leadrelay_source_drift_warnings\{source="chatwoot"\} [1-9]/);

    const sourcesPage = await adminPage(service, '/admin/sources');
    expect(sourcesPage).toContain('── chatwoot ──');
    expect(sourcesPage).toContain('contact.email is missing in 100% of the last 50 events');
    expect(sourcesPage).toContain('conversation.escalated 50');

    const cli = await runCli(['sources', '--config', service.configFile, '--json']);
    expect(cli.code).toBe(0);
    const [report] = JSON.parse(cli.stdout);
    expect(report).toMatchObject({ source: 'chatwoot', recentSize: 50, earlierSize: 50 });
    expect(report.warnings.map((w: { key: string }) => w.key)).toContain('field-missing:contact.email');
    expect(report.shapeChanges).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'meta.contact', type: 'object', recent: 1 })]),
    );

    await service.close();
    expect(ops.received).toHaveLength(1);
  });
});

describe('source report (the rules)', () => {
  const event = (
    n: number,
    body: Record<string, unknown>,
    canonical: Record<string, unknown> | null,
  ): RecentSourceEvent => ({
    id: `ev_${String(1000 - n).padStart(4, '0')}`,
    type: canonical ? String(canonical.type) : 'ignored',
    status: canonical ? 'accepted' : 'ignored',
    receivedAt: 1_000_000 - n,
    payload: JSON.stringify(canonical ?? body),
    rawPayload: canonical ? JSON.stringify(body) : null,
  });
  const lead = { type: 'lead.qualified', contact: { email: 'a@b.example' } };

  it('says nothing until both windows hold 20 events', () => {
    const few = Array.from({ length: 30 }, (_, n) =>
      event(n, { topic: n < 10 ? 'new.topic' : 'contact.lead.created' }, lead),
    );
    expect(sourceReport('s', few).warnings).toEqual([]);
  });

  it('warns on a new kind of platform event and on a jump of the ignored share', () => {
    const events = [
      ...Array.from({ length: 50 }, (_, n) => event(n, { topic: 'conversation.deleted' }, null)),
      ...Array.from({ length: 50 }, (_, n) => event(50 + n, { topic: 'contact.lead.created' }, lead)),
    ];
    const report = sourceReport('intercom', events);
    expect(report.warnings.map((w) => w.key)).toEqual(['new-event:conversation.deleted', 'ignored-jump']);
    expect(report.ignoredShare).toEqual({ recent: 1, earlier: 0 });
    expect(report.counts).toEqual({ ignored: 50 });
  });

  it('does not warn about a field that was never reliably there', () => {
    const events = Array.from({ length: 100 }, (_, n) =>
      event(
        n,
        { event: 'x' },
        { type: 'lead.qualified', contact: { email: 'a@b.example', ...(n % 2 ? { phone: '+1' } : {}) } },
      ),
    );
    expect(sourceReport('s', events).warnings).toEqual([]);
  });
});

async function metrics(service: TestService): Promise<string> {
  return (await fetch(`${service.url}/metrics`)).text();
}

async function adminPage(service: TestService, path: string): Promise<string> {
  const login = await fetch(`${service.url}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: TOKEN }).toString(),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const response = await fetch(`${service.url}${path}`, { headers: { cookie } });
  expect(response.status).toBe(200);
  return response.text();
}
