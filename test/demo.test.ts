import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary, EventSummary } from '../src/demo/report.ts';
import { type ChildProcessRun, spawnLeadrelay } from './helpers/child-server.ts';
import { tempDir } from './helpers/temp-dir.ts';

type Run = ChildProcessRun;

/** `leadrelay demo …` in its own process, without the shell's PORT and DATABASE_URL. */
function runDemo(args: string[], env: Record<string, string | undefined> = {}): Run {
  return spawnLeadrelay(['demo', ...args], { PORT: undefined, DATABASE_URL: undefined, ...env });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms; output:\n${output()}`)), ms);
    }),
  ]);
}

describe('leadrelay demo --exit', () => {
  const dir = tempDir('leadrelay-demo-test-');
  const jsonFile = join(dir.path, 'summary.json');
  let code: number | string;
  let stdout: string;
  let summary: DemoSummary;
  const event = (key: string): EventSummary => {
    const found = summary.events.find((e) => e.key === key);
    if (!found) throw new Error(`no event ${key} in the summary`);
    return found;
  };
  const delivery = (key: string, connector: string) => {
    const found = event(key).deliveries.find((d) => d.connector === connector);
    if (!found) throw new Error(`event ${key} has no ${connector} delivery`);
    return found;
  };

  beforeAll(async () => {
    const run = runDemo(['--exit', '--json-summary', jsonFile], { LEADRELAY_ADMIN_TOKEN: undefined });
    try {
      code = await withTimeout(run.exited, 150_000, 'demo did not exit', run.output);
    } finally {
      run.child.kill('SIGKILL');
    }
    stdout = run.output();
    summary = JSON.parse(readFileSync(jsonFile, 'utf8')) as DemoSummary;
  }, 180_000);
  afterAll(() => dir.cleanup());

  it('exits 0 with every delivery settled and the database agreeing with the sandboxes', () => {
    expect(code, stdout).toBe(0);
    expect(summary.problems).toEqual([]);
    expect(summary.settled).toBe(true);
    expect(summary.ok).toBe(true);
    // settled means within the demo's own 60 s budget; how fast is the machine's business, not the test's.
    expect(summary.events.every((e) => e.httpStatus === 202)).toBe(true);
    expect(summary.adminUrl).toBe(`${summary.url}/admin/`);
    expect(summary.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('delivers everything except the free-mail lead to Salesforce, which is dead with its reason', () => {
    const all = summary.events.flatMap((e) => e.deliveries.map((d) => ({ key: e.key, ...d })));
    const dead = all.filter((d) => d.status === 'dead');
    expect(dead.map((d) => `${d.key}/${d.connector}`)).toEqual(['lead-free-mail/salesforce']);
    expect(all.filter((d) => d.status !== 'dead').every((d) => d.status === 'delivered')).toBe(true);
    const reason = delivery('lead-free-mail', 'salesforce').lastError;
    expect(reason).toMatch(/FIELD_CUSTOM_VALIDATION_EXCEPTION/);
    expect(reason).toMatch(/business email/);
    expect(delivery('lead-free-mail', 'salesforce').attempts).toBe(1);
    expect(summary.totals).toMatchObject({ dead: 1, delivered: all.length - 1 });
    // The same lead still reached HubSpot and #sales.
    expect(delivery('lead-free-mail', 'hubspot').status).toBe('delivered');
    expect(delivery('lead-free-mail', 'slack-sales').status).toBe('delivered');
  });

  it('routes each event type where the configuration says', () => {
    const routed = Object.fromEntries(
      summary.events.map((e) => [e.key, e.deliveries.map((d) => d.connector).sort()]),
    );
    const lead = ['forward', 'hubspot', 'salesforce', 'slack-sales'];
    expect(routed).toEqual({
      'lead-dana': lead,
      'lead-priya': lead,
      'lead-dana-again': lead,
      'lead-phone-only': lead,
      escalation: ['forward', 'slack-support'],
      'feedback-negative': ['forward', 'slack-support'],
      'feedback-positive': ['forward'],
      'lead-free-mail': lead,
    });
  });

  it('makes one HubSpot contact per distinct lead, updating it for the repeat lead', () => {
    const leads = summary.events.filter((e) => e.type === 'lead.qualified');
    const emails = new Set(
      leads
        .map((e) => e.deliveries.find((d) => d.connector === 'hubspot'))
        .map((d) => d?.result?.contact_id)
        .filter((id) => id !== undefined),
    );
    // dana (twice), priya, the phone-only lead, the free-mail lead
    expect(emails.size).toBe(4);
    expect(summary.sandboxes.hubspot.contacts).toBe(4);
    expect([...summary.sandboxes.hubspot.contactEmails].sort()).toEqual([
      'alex.kowalski.consulting@gmail.com',
      'dana.reyes@acme.example',
      'priya@northwind.example',
    ]);
    expect(summary.sandboxes.hubspot.notes).toBe(leads.length);

    const first = delivery('lead-dana', 'hubspot').result!;
    const again = delivery('lead-dana-again', 'hubspot').result!;
    expect(again.contact_id).toBe(first.contact_id);
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.note_id).not.toBe(first.note_id);
  });

  it('makes Salesforce Leads with Tasks, updating the repeat lead and refusing the free-mail one', () => {
    const first = delivery('lead-dana', 'salesforce').result!;
    const again = delivery('lead-dana-again', 'salesforce').result!;
    expect(first).toMatchObject({ object: 'Lead', action: 'created' });
    expect(again).toMatchObject({ object: 'Lead', action: 'updated', id: first.id });
    expect(delivery('lead-phone-only', 'salesforce').result).toMatchObject({
      object: 'Lead',
      action: 'created',
    });
    expect(summary.sandboxes.salesforce.leads).toBe(3);
    expect(summary.sandboxes.salesforce.tasks).toBe(4);
    expect(summary.sandboxes.salesforce.leadEmails).not.toContain('alex.kowalski.consulting@gmail.com');
  });

  it('posts each Slack alert, in the right channel, and prints it as text', () => {
    const sales = summary.events.filter((e) => e.deliveries.some((d) => d.connector === 'slack-sales'));
    const support = summary.events.filter((e) => e.deliveries.some((d) => d.connector === 'slack-support'));
    expect(summary.sandboxes.slack.messages).toEqual({ '#sales': sales.length, '#support': support.length });
    expect(sales.length).toBe(5);
    expect(support.map((e) => e.key).sort()).toEqual(['escalation', 'feedback-negative']);
    for (const e of sales) {
      const d = e.deliveries.find((x) => x.connector === 'slack-sales')!;
      expect(d.result?.channel).toBe('C0SALES01');
      expect(d.landed.join('\n')).toMatch(/New qualified lead/);
    }
    expect(delivery('lead-dana', 'slack-sales').result?.buttons).toEqual([
      'Open in HubSpot',
      'Open in Salesforce',
    ]);
    // Salesforce refused it, so the alert has only the HubSpot button.
    expect(delivery('lead-free-mail', 'slack-sales').result?.buttons).toEqual(['Open in HubSpot']);
    expect(delivery('escalation', 'slack-support').landed.join('\n')).toMatch(/HIGH priority: Sam Lee/);
    expect(delivery('feedback-negative', 'slack-support').landed.join('\n')).toMatch(
      /Negative feedback \(1\/5\)/,
    );
  });

  it('forwards every event, signed, to the webhook receiver', () => {
    expect(summary.sandboxes.webhook).toEqual({
      requests: summary.events.length,
      delivered: summary.events.length,
      signaturesValid: summary.events.length,
    });
  });

  it('prints the same summary it wrote as JSON', () => {
    const c = summary.sandboxes;
    expect(stdout).toContain('Where each event landed');
    expect(stdout).toContain(`HubSpot     ${c.hubspot.contacts} contacts, ${c.hubspot.notes} notes`);
    expect(stdout).toContain(
      `Salesforce  ${c.salesforce.leads} Leads, ${c.salesforce.contacts} Contacts, ${c.salesforce.tasks} Tasks`,
    );
    expect(stdout).toContain(
      `messages: #sales ${c.slack.messages['#sales']}, #support ${c.slack.messages['#support']}`,
    );
    expect(stdout).toContain("Cross-check: leadrelay's database and the sandboxes agree.");
    expect(stdout).toContain('Why something went dead');
    expect(stdout).toContain(delivery('lead-free-mail', 'salesforce').lastError!);
    for (const e of summary.events) expect(stdout).toContain(e.eventId);
    // --exit stops after the summary: no admin address, no waiting for Ctrl-C.
    expect(stdout).not.toContain('Press Ctrl-C');
  });
});

describe('leadrelay demo (serving)', () => {
  it('keeps serving with the admin address and token until SIGINT, then exits 0', async () => {
    const run = runDemo([], { LEADRELAY_ADMIN_TOKEN: 'demo-test-token-0123456789' });
    try {
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = () => {
            if (run.output().includes('Press Ctrl-C')) resolve();
          };
          run.child.stdout!.on('data', check);
        }),
        150_000,
        'demo did not reach "Press Ctrl-C"',
        run.output,
      );
      const url = /keeps running at (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1];
      expect(url).toBeDefined();
      expect(run.output()).toContain(`admin page  ${url}/admin/`);
      expect(run.output()).toContain('admin token demo-test-token-0123456789  (from LEADRELAY_ADMIN_TOKEN)');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      run.child.kill('SIGINT');
      const code = await withTimeout(run.exited, 60_000, 'demo did not stop on SIGINT', run.output);
      expect(code, run.output()).toBe(0);
      expect(run.output()).toContain('SIGINT: stopping.');
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 240_000);
});
