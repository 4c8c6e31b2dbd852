import { DeliveryError } from '../connectors/errors.ts';
import { salesforceConnector } from '../connectors/salesforce/index.ts';
import type { Connector, DeliveryContext } from '../connectors/types.ts';
import { SANDBOX_DEFAULTS, SalesforceSandbox, type SandboxRequest } from '../sandboxes/salesforce/index.ts';

/*
 * What a delivered lead costs of a Salesforce org's daily API allowance — the
 * limit Salesforce customers run out of first. The real connector (settings
 * parsed as the loader does, real jsforce over HTTP) delivers to the
 * Salesforce sandbox, which counts API requests as Salesforce does (a
 * /composite call is one, whatever it carries) and reports them in its
 * `Sforce-Limit-Info: api-usage=N/M` header. Call counts are deterministic:
 * the machine's load does not change them.
 */

/** A lone new lead with its transcript must cost at most this many API calls (token aside). */
export const NEW_LEAD_TARGET = 2;

export interface SalesforceScenario {
  name: string;
  leads: number;
  /** API requests the org counted (its api-usage), what the daily allowance sees. */
  apiCalls: number;
  perLead: number;
  /** OAuth token requests: once per process (and after INVALID_SESSION_ID), not per lead. */
  tokenRequests: number;
  /** The requests, in order, e.g. `POST /composite [GET query Lead, GET query Contact]`. */
  requests: string[];
  /** At most this many calls per lead, when the scenario has a target. */
  target?: { max: number; pass: boolean };
}

export interface SalesforceResult {
  part: 'salesforce';
  scenarios: SalesforceScenario[];
}

let counter = 0;

/** A qualified lead with a two-message transcript, as a chatbot sends it. */
function lead(contact: Record<string, unknown>): Record<string, unknown> {
  counter++;
  return {
    id: `evt_bench_sf_${counter}`,
    type: 'lead.qualified',
    occurred_at: '2026-11-25T10:04:00Z',
    contact,
    conversation: {
      id: `conv_${counter}`,
      channel: 'web',
      url: `https://chat.example/c/${counter}`,
      messages: [
        { role: 'bot', text: 'Hi! What brings you here?', at: '2026-11-25T10:01:00Z' },
        { role: 'user', text: 'We need intake automation.', at: '2026-11-25T10:01:20Z' },
      ],
    },
  };
}

function contextFor(
  event: Record<string, unknown>,
  attempt = 1,
  earlierAttemptsEndedBy?: number,
): DeliveryContext {
  return {
    event,
    eventId: `ev_${String(event.id)}`,
    deliveryId: counter,
    source: 'bench',
    receivedAt: Date.now(),
    attempt,
    earlierAttemptsEndedBy,
    related: {},
  };
}

function connectorFor(sandbox: SalesforceSandbox): Connector {
  const settings = salesforceConnector.settings.parse({
    instance_url: sandbox.url,
    client_id: SANDBOX_DEFAULTS.clientId,
    client_secret: SANDBOX_DEFAULTS.clientSecret,
  });
  return salesforceConnector.create('salesforce', settings, { now: Date.now, log: () => {} });
}

/** `GET query Lead`, `POST /sobjects/Task`, `POST /composite [PATCH /sobjects/Lead/…, POST /sobjects/Task]`. */
function describe(request: SandboxRequest): string {
  const path = request.path.replace(/^\/services\/data\/v[\d.]+/, '');
  if (request.soql) return `${request.method} query ${/FROM (\w+)/.exec(request.soql)?.[1] ?? '?'}`;
  const records = (request.body as { records?: unknown[] } | undefined)?.records;
  const parts = (request.body as { compositeRequest?: { method: string; url: string }[] } | undefined)
    ?.compositeRequest;
  if (parts) {
    const inner = parts.map((part) => {
      const soql = /[?&]q=([^&]*)/.exec(part.url)?.[1];
      if (soql) return `${part.method} query ${/FROM\s+(\w+)/.exec(decodeURIComponent(soql))?.[1] ?? '?'}`;
      return `${part.method} ${part.url.replace(/^\/services\/data\/v[\d.]+/, '').replace(/\/\w{15,18}$/, '/…')}`;
    });
    return `${request.method} ${path} [${inner.join(', ')}]`;
  }
  return `${request.method} ${path.replace(/\/\w{15,18}$/, '/…')}${records ? ` (${records.length} records)` : ''}`;
}

async function scenario(
  name: string,
  run: (sandbox: SalesforceSandbox, connector: Connector) => Promise<number>,
  target?: number,
): Promise<SalesforceScenario> {
  const sandbox = await SalesforceSandbox.start({ dailyLimit: 1_000_000 });
  try {
    const connector = connectorFor(sandbox);
    const leads = await run(sandbox, connector);
    const apiCalls = sandbox.apiUsage;
    if (apiCalls !== sandbox.apiRequests().length)
      throw new Error(
        `${name}: the sandbox counted ${apiCalls} API calls but logged ${sandbox.apiRequests().length}`,
      );
    const perLead = apiCalls / leads;
    return {
      name,
      leads,
      apiCalls,
      perLead,
      tokenRequests: sandbox.tokenRequests.length,
      requests: sandbox.apiRequests().map(describe),
      ...(target === undefined ? {} : { target: { max: target, pass: perLead <= target } }),
    };
  } finally {
    await sandbox.close();
  }
}

function expectDelivered(outcome: unknown, what: string): void {
  if (outcome instanceof DeliveryError || outcome === undefined)
    throw new Error(`${what} was not delivered: ${(outcome as Error | undefined)?.message}`);
}

function expectCounts(sandbox: SalesforceSandbox, leads: number, tasks: number, what: string): void {
  if (sandbox.leads.length !== leads || sandbox.tasks.length !== tasks)
    throw new Error(
      `${what}: expected ${leads} Leads and ${tasks} Tasks, found ${sandbox.leads.length} and ${sandbox.tasks.length}`,
    );
}

/**
 * Delivers typical leads one scenario at a time, each against a fresh
 * sandbox and connector, and counts the org's API calls per lead.
 */
export async function benchSalesforce(
  options: { log?: (line: string) => void } = {},
): Promise<SalesforceResult> {
  const log = options.log ?? (() => {});
  const scenarios: SalesforceScenario[] = [];
  const add = async (...args: Parameters<typeof scenario>) => {
    log(`salesforce: ${args[0]}`);
    scenarios.push(await scenario(...args));
  };

  await add(
    'new lead with transcript',
    async (sandbox, connector) => {
      await connector.deliver(
        contextFor(lead({ email: 'dana@acme.example', name: 'Dana Reyes', company: 'Acme' })),
      );
      expectCounts(sandbox, 1, 1, 'new lead');
      return 1;
    },
    NEW_LEAD_TARGET,
  );
  await add(
    'returning lead: its open Lead updated, transcript added',
    async (sandbox, connector) => {
      sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Email: 'dana@acme.example' });
      await connector.deliver(
        contextFor(lead({ email: 'dana@acme.example', name: 'Dana Reyes', job_title: 'CEO' })),
      );
      expectCounts(sandbox, 1, 1, 'returning lead');
      return 1;
    },
    NEW_LEAD_TARGET,
  );
  await add('returning lead whose Lead was converted: its Contact updated', async (sandbox, connector) => {
    sandbox.seedConvertedLead({ LastName: 'Reyes', Company: 'Acme', Email: 'dana@acme.example' });
    await connector.deliver(contextFor(lead({ email: 'dana@acme.example', name: 'Dana Reyes' })));
    if (sandbox.tasks.length !== 1) throw new Error('converted lead: expected one Task');
    return 1;
  });
  await add('new lead with a phone number only', async (sandbox, connector) => {
    await connector.deliver(contextFor(lead({ phone: '+1 415 555 0142', name: 'Pat Phone' })));
    expectCounts(sandbox, 1, 1, 'phone-only lead');
    return 1;
  });
  await add(
    'new lead, worker killed after the write, before recording it: both attempts',
    async (sandbox, connector) => {
      // The first attempt's writes land; its outcome is never recorded (the worker
      // died), so a second attempt runs with the attempt counted and checks before redoing.
      const event = lead({ email: 'cora@acme.example', name: 'Cora Crash', company: 'Acme' });
      await connector.deliver(contextFor(event));
      const result = await connector.deliver(contextFor(event, 2, Date.now()));
      expectCounts(sandbox, 1, 1, 'retry after a crash');
      if (result.data?.task !== 'existing')
        throw new Error('retry after a crash: the Task was not found again');
      return 1;
    },
  );
  await add('200 leads due together (a backlog: 190 new, 10 returning)', async (sandbox, connector) => {
    for (let i = 0; i < 10; i++)
      sandbox.seed('Lead', { LastName: 'Old', Company: 'Batch', Email: `person${i * 20}@batch.example` });
    const contexts = Array.from({ length: 200 }, (_, i) =>
      contextFor(lead({ email: `person${i}@batch.example`, name: `Person ${i}`, company: 'Batch' })),
    );
    const outcomes = await connector.deliverBatch!(contexts);
    outcomes.forEach((outcome, i) => {
      expectDelivered(outcome, `lead ${i} of the batch`);
    });
    expectCounts(sandbox, 200, 200, 'batch');
    return 200;
  });
  return { part: 'salesforce', scenarios };
}

export function formatSalesforce(result: SalesforceResult): string[] {
  const rows = result.scenarios.map((s) => [
    s.name,
    String(s.apiCalls),
    s.perLead < 1 ? s.perLead.toFixed(3) : s.perLead.toFixed(1),
    String(s.tokenRequests),
    s.target ? `≤ ${s.target.max}  ${s.target.pass ? 'PASS' : 'MISS'}` : '',
  ]);
  const table = [['', 'API calls', 'per lead', 'token requests', 'target per lead'], ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  const lines = table.map((row) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  '),
  );
  return [
    'salesforce: API calls per delivered lead, counted by the Salesforce sandbox as the org counts them',
    '(a /composite call is one; the OAuth token is one request per process, listed apart)',
    '',
    ...lines,
    '',
    ...result.scenarios.flatMap((s) => [`${s.name}:`, ...s.requests.map((r) => `  ${r}`)]),
  ];
}
