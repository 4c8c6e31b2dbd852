import { describe, expect, it } from 'vitest';
import { SalesforceSandbox } from '../sandboxes/salesforce/index.ts';
import { DeliveryWorker } from '../src/outbox/delivery-worker.ts';
import {
  attemptsOf,
  deliveryOf,
  salesforceLead,
  sandboxAuth,
  send,
  serviceFor,
  settled,
} from './fixtures/salesforce/helpers.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { until } from './helpers/until.ts';

/*
 * The Salesforce connector end to end: the real service (HTTP ingest,
 * outbox, delivery worker) with a `type: salesforce` connector file, real
 * jsforce, and the Salesforce sandbox as the org.
 */

const cleanups = cleanupsAfter('each');

async function setup(
  connector: (sandbox: SalesforceSandbox) => Record<string, unknown> = sandboxAuth,
  options: Parameters<typeof serviceFor>[1] = {},
) {
  const sandbox = await SalesforceSandbox.start();
  cleanups.push(() => sandbox.close());
  const service = await serviceFor(connector(sandbox), options);
  cleanups.push(() => service.close());
  return { sandbox, service };
}

/** What wrote to the org: REST writes and composite subrequests that are writes. */
const writes = (sandbox: SalesforceSandbox) =>
  sandbox.operations().filter((r) => r.method === 'POST' || r.method === 'PATCH');

/**
 * The API calls the org counted, one line each: `GET query Lead`,
 * `POST /composite: GET query Lead, GET query Contact`, `POST /composite/sobjects (190)`.
 */
function calls(sandbox: SalesforceSandbox): string[] {
  const short = (path: string) =>
    path.replace('/services/data/v62.0', '').replace(/\/(00Q|003|00T)\w{12,15}$/, '/{id}');
  const line = (op: { method: string; path: string; soql?: string; body?: unknown }) => {
    if (op.soql) return `${op.method} query ${/FROM (\w+)/.exec(op.soql)![1]}`;
    const records = (op.body as { records?: unknown[] } | undefined)?.records;
    return `${op.method} ${short(op.path)}${records ? ` (${records.length})` : ''}`;
  };
  expect(sandbox.apiUsage).toBe(sandbox.apiRequests().length);
  return sandbox
    .apiRequests()
    .map((r) => (r.subrequests ? `${line(r)}: ${r.subrequests.map(line).join(', ')}` : line(r)));
}

describe('a qualified lead in Salesforce', () => {
  it('becomes a new Lead with the transcript as a completed Task, and links to it', async () => {
    const { sandbox, service } = await setup();
    const event = salesforceLead();
    const id = await send(service, event);
    const row = await settled(service, id, 'delivered');

    expect(sandbox.leads).toHaveLength(1);
    const lead = sandbox.leads[0]!;
    expect(lead).toMatchObject({
      FirstName: 'Dana',
      LastName: 'Reyes',
      Email: (event.contact as { email: string }).email,
      Phone: '+14155550100',
      Company: 'Acme Corp',
      Title: 'COO',
      LeadSource: 'Chatbot',
      Status: 'Open - Not Contacted',
      IsConverted: false,
    });
    expect(sandbox.tasks).toHaveLength(1);
    const task = sandbox.tasks[0]!;
    expect(task).toMatchObject({
      WhoId: lead.Id,
      Status: 'Completed',
      IsClosed: true,
      Priority: 'Normal',
      ActivityDate: '2026-11-25',
      Subject: `Chatbot conversation (web) [leadrelay ${id}]`,
    });
    expect(task.Description).toBe(
      [
        `Conversation: ${(event.conversation as { url: string }).url}`,
        '',
        '[10:01] Bot: Hi! What brings you here?',
        '[10:01] Visitor (Dana): We need intake automation.',
      ].join('\n'),
    );
    expect(row.result).toEqual({
      object: 'Lead',
      id: lead.Id,
      action: 'created',
      task_id: task.Id,
      task: 'created',
      links: [{ label: 'Open in Salesforce', url: `${sandbox.url}/lightning/r/Lead/${lead.Id}/view` }],
    });
    expect(await attemptsOf(service, id)).toMatchObject([
      {
        outcome: 'delivered',
        status_code: 201,
        response_summary: `Lead ${lead.Id} created, task ${task.Id} created`,
      },
    ]);
    // The API version is set explicitly (jsforce would use 50.0), and one token served every call.
    expect(sandbox.apiRequests().every((r) => r.path.startsWith('/services/data/v62.0/'))).toBe(true);
    expect(sandbox.tokenRequests.map((t) => [t.grantType, t.ok])).toEqual([['client_credentials', true]]);
    // What one lead alone costs of the org's daily API allowance (docs/performance.md, Salesforce):
    // two calls, the token aside (one per process, renewed when it expires). Each /composite call
    // counts as one, whatever it carries.
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: POST /sobjects/Lead, POST /sobjects/Task',
    ]);
    expect(sandbox.apiUsage).toBe(2);
  });

  it('updates the existing Lead with that email instead, leaving LeadSource and the company it has', async () => {
    const { sandbox, service } = await setup();
    const leadId = sandbox.seed('Lead', {
      FirstName: 'D.',
      LastName: 'Reyes',
      Company: 'Acme Holdings',
      Email: 'Dana@Acme.example',
      LeadSource: 'Web',
    });
    const contact = { email: 'dana@acme.example', name: 'Dana Reyes', job_title: 'CEO' };
    const first = await send(service, salesforceLead({ contact }));
    const row = await settled(service, first, 'delivered');
    expect(sandbox.leads).toEqual([
      expect.objectContaining({
        Id: leadId,
        FirstName: 'Dana',
        Title: 'CEO',
        Company: 'Acme Holdings',
        LeadSource: 'Web',
        Email: 'dana@acme.example',
      }),
    ]);
    expect(row.result).toMatchObject({ object: 'Lead', id: leadId, action: 'updated', task: 'created' });
    expect(sandbox.operations('/sobjects/Lead').map((r) => [r.method, r.path])).toEqual([
      ['PATCH', `/services/data/v62.0/sobjects/Lead/${leadId}`],
    ]);
    // Two calls here too: a first attempt has no Task of its own to look for.
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: PATCH /sobjects/Lead/{id}, POST /sobjects/Task',
    ]);

    // A later conversation with the same person: same Lead, its own Task.
    const second = await send(service, salesforceLead({ contact }));
    await settled(service, second, 'delivered');
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks.map((t) => [t.WhoId, String(t.Subject).endsWith(`[leadrelay ${second}]`)])).toEqual([
      [leadId, false],
      [leadId, true],
    ]);
  });

  it('follows a converted Lead to its Contact and updates that', async () => {
    const { sandbox, service } = await setup();
    const { leadId, contactId } = sandbox.seedConvertedLead({
      FirstName: 'Dana',
      LastName: 'Reyes',
      Company: 'Acme Corp',
      Email: 'dana@acme.example',
    });
    const id = await send(
      service,
      salesforceLead({
        contact: { email: 'dana@acme.example', name: 'Dana Reyes', job_title: 'VP Operations' },
      }),
    );
    const row = await settled(service, id, 'delivered');
    expect(sandbox.contacts).toEqual([expect.objectContaining({ Id: contactId, Title: 'VP Operations' })]);
    expect(sandbox.leads).toEqual([expect.objectContaining({ Id: leadId, IsConverted: true })]);
    expect(sandbox.tasks).toEqual([expect.objectContaining({ WhoId: contactId, Status: 'Completed' })]);
    expect(row.result).toMatchObject({
      object: 'Contact',
      id: contactId,
      action: 'updated',
      converted_lead_id: leadId,
      links: [{ label: 'Open in Salesforce', url: `${sandbox.url}/lightning/r/Contact/${contactId}/view` }],
    });
    // The converted Lead itself is never written to (Salesforce refuses: CANNOT_UPDATE_CONVERTED_LEAD).
    expect(writes(sandbox).map((r) => r.path)).toEqual([
      `/services/data/v62.0/sobjects/Contact/${contactId}`,
      '/services/data/v62.0/sobjects/Task',
    ]);
  });

  it('never guesses between several matching records: dead at once, every id listed', async () => {
    const { sandbox, service } = await setup();
    const leadId = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Email: 'dana@acme.example' });
    const contactId = sandbox.seed('Contact', { LastName: 'Reyes', Email: 'DANA@acme.example' });
    const id = await send(
      service,
      salesforceLead({ contact: { email: 'dana@acme.example', name: 'Dana Reyes' } }),
    );
    const row = await settled(service, id);
    expect(row.status).toBe('dead');
    expect(row.last_error).toBe(
      `ambiguous match: 2 Salesforce records have the email dana@acme.example: Lead ${leadId}, Contact ${contactId}. leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
    );
    expect(row.attempts).toBe(1);
    expect(writes(sandbox)).toEqual([]);
    expect(sandbox.tasks).toEqual([]);
  });

  it('creates a Lead without company or last name with placeholders rather than failing', async () => {
    const { sandbox, service } = await setup();
    const id = await send(
      service,
      salesforceLead({ contact: { email: 'dana@nowhere.example', name: 'Dana' } }),
    );
    await settled(service, id, 'delivered');
    expect(sandbox.leads).toEqual([
      expect.objectContaining({ FirstName: 'Dana', LastName: '[not provided]', Company: '[not provided]' }),
    ]);
  });

  it('uses the configured placeholder', async () => {
    const { sandbox, service } = await setup((s) => ({
      ...sandboxAuth(s),
      placeholders: { Company: 'Unknown (chatbot)' },
    }));
    const id = await send(
      service,
      salesforceLead({ contact: { email: 'sam@nowhere.example', name: 'Sam Lee' } }),
    );
    await settled(service, id, 'delivered');
    expect(sandbox.leads).toEqual([
      expect.objectContaining({ LastName: 'Lee', Company: 'Unknown (chatbot)' }),
    ]);
  });
});

describe('sessions', () => {
  it('renews an expired token once, inside the same attempt, and carries on', async () => {
    const { sandbox, service } = await setup();
    const first = await send(service, salesforceLead());
    await settled(service, first, 'delivered');
    sandbox.expireTokens();
    const second = await send(service, salesforceLead());
    await settled(service, second, 'delivered');

    expect(sandbox.tokenRequests.map((t) => t.ok)).toEqual([true, true]);
    expect((await attemptsOf(service, second)).map((a) => a.outcome)).toEqual(['delivered']);
    // The refused call was repeated after the new token, not skipped.
    const afterExpiry = sandbox.requests.slice(sandbox.requests.findIndex((r) => r.status === 401));
    expect(afterExpiry.slice(0, 3).map((r) => [r.method, r.path.replace(/\/v62\.0/, ''), r.status])).toEqual([
      ['POST', '/services/data/composite', 401],
      ['POST', '/services/oauth2/token', 200],
      ['POST', '/services/data/composite', 200],
    ]);
    expect(afterExpiry[0]!.body).toEqual(afterExpiry[2]!.body);
    expect(sandbox.leads).toHaveLength(2);
  });

  it('with a refresh token: renews through the refresh token grant', async () => {
    const { sandbox, service } = await setup((s) => ({
      instance_url: s.url,
      login_url: s.url,
      client_id: 'sandbox-consumer-key',
      refresh_token: 'sandbox-refresh-token',
      access_token: 'sandbox-access-token',
    }));
    sandbox.expireTokens();
    const id = await send(service, salesforceLead());
    await settled(service, id, 'delivered');
    expect(sandbox.tokenRequests.map((t) => [t.grantType, t.ok])).toEqual([['refresh_token', true]]);
  });

  it('with an access token alone, an expired session is dead with what to do about it', async () => {
    const { sandbox, service } = await setup((s) => ({
      instance_url: s.url,
      access_token: 'sandbox-access-token',
    }));
    sandbox.expireTokens();
    const id = await send(service, salesforceLead());
    const row = await settled(service, id);
    expect(row.status).toBe('dead');
    expect(row.last_error).toMatch(/INVALID_SESSION_ID: Session expired or invalid.*cannot be renewed/);
    expect(row.attempts).toBe(1);
    expect(sandbox.tokenRequests).toEqual([]);
  });

  it('a refused refresh token is dead with the OAuth error', async () => {
    const { sandbox, service } = await setup((s) => ({
      instance_url: s.url,
      login_url: s.url,
      client_id: 'sandbox-consumer-key',
      refresh_token: 'revoked-long-ago',
    }));
    const id = await send(service, salesforceLead());
    const row = await settled(service, id);
    expect(row.status).toBe('dead');
    expect(row.last_error).toBe(
      `Salesforce refused to issue an access token (invalid_grant: expired access/refresh token) at ${sandbox.url}/services/oauth2/token`,
    );
  });
});

describe("Salesforce's errors", () => {
  it('a duplicate rule blocks the new Lead: dead, naming the rule and the record it matched', async () => {
    const { sandbox, service } = await setup();
    sandbox.setDuplicateRule('Lead', {
      name: 'Leads_with_same_name_and_company',
      fields: ['LastName', 'Company'],
    });
    const existing = sandbox.seed('Lead', {
      LastName: 'Reyes',
      Company: 'Acme Corp',
      Email: 'd.reyes@acme.example',
    });
    const id = await send(service, salesforceLead());
    const row = await settled(service, id);
    expect(row.status).toBe('dead');
    expect(row.last_error).toBe(
      `Salesforce rejected the Lead: DUPLICATES_DETECTED: Use one of these records? (duplicate rule Leads_with_same_name_and_company matches Lead ${existing})`,
    );
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks).toEqual([]);
  });

  it.each([
    [
      'an invalid email, naming the field',
      (_: SalesforceSandbox) => {},
      { email: 'dana@acme', name: 'Dana Reyes', company: 'Acme' },
      'Salesforce rejected the Lead: INVALID_EMAIL_ADDRESS: Email: invalid email address: dana@acme (fields: Email)',
    ],
    [
      "an admin's validation rule, with the admin's own message",
      (sandbox: SalesforceSandbox) =>
        sandbox.addValidationRule('Lead', {
          message: 'Chatbot leads need a phone number so that sales can call back',
          field: 'Phone',
          when: (lead) => !lead.Phone,
        }),
      { email: 'dana@acme.example', name: 'Dana Reyes', company: 'Acme' },
      'Salesforce rejected the Lead: FIELD_CUSTOM_VALIDATION_EXCEPTION: Chatbot leads need a phone number so that sales can call back (fields: Phone)',
    ],
    [
      'a field the admin made required',
      (sandbox: SalesforceSandbox) => sandbox.requireField('Lead', 'Industry'),
      { email: 'dana@acme.example', name: 'Dana Reyes', company: 'Acme' },
      'Salesforce rejected the Lead: REQUIRED_FIELD_MISSING: Required fields are missing: [Industry] (fields: Industry)',
    ],
  ])('%s is dead at once', async (_name, arrange, contact, message) => {
    const { sandbox, service } = await setup();
    arrange(sandbox);
    const id = await send(service, salesforceLead({ contact }));
    const row = await settled(service, id);
    expect(row).toMatchObject({ status: 'dead', attempts: 1, last_error: message });
    expect((await attemptsOf(service, id))[0]).toMatchObject({ outcome: 'dead', status_code: 400 });
  });

  it('the daily API limit: retried after a wait, with the connector paused meanwhile', async () => {
    const clock = { now: Date.now() };
    const { sandbox, service } = await setup(sandboxAuth, {
      now: () => clock.now,
      delivery: { retry_schedule: ['0s', '1s', '1s'] },
    });
    sandbox.dailyLimit = 0;
    const id = await send(service, salesforceLead());
    await until(async () => (await attemptsOf(service, id)).length === 1, 'first attempt');
    const row = await deliveryOf(service, id);
    expect(row.status).toBe('pending');
    expect(row.last_error).toBe(
      'Salesforce rejected the look-up of existing Leads and Contacts: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.',
    );
    expect(row.next_attempt_at).toBe(clock.now + 10 * 60_000);
    expect((await attemptsOf(service, id))[0]).toMatchObject({ outcome: 'retry', status_code: 403 });

    sandbox.dailyLimit = 15_000;
    clock.now += 10 * 60_000;
    service.worker!.wake();
    await settled(service, id, 'delivered');
  });

  it('outages and dropped connections are retried by the engine alone (jsforce does not retry on its own)', async () => {
    const { sandbox, service } = await setup();
    sandbox.failNext(1, { status: 503 });
    sandbox.failNext(1, { match: { method: 'POST', path: '/sobjects/Lead' }, reset: true });
    const id = await send(service, salesforceLead());
    await settled(service, id, 'delivered');
    const attempts = await attemptsOf(service, id);
    expect(attempts.map((a) => [a.outcome, a.status_code])).toEqual([
      ['retry', 503],
      ['retry', null],
      ['delivered', 201],
    ]);
    expect(attempts[0]!.error).toMatch(
      /^Salesforce rejected the look-up of existing Leads and Contacts: SERVER_UNAVAILABLE/,
    );
    // The fault names the Lead's POST: it hits the composite call that carries it.
    expect(attempts[1]!.error).toMatch(
      /^could not reach 127\.0\.0\.1:\d+ \(the Lead and its Task\): connection reset \((ECONNRESET|UND_ERR_SOCKET)\)/,
    );
    // Exactly one request got the 503: no hidden retry layer inside jsforce.
    expect(sandbox.requests.filter((r) => r.status === 503)).toHaveLength(1);
    expect(sandbox.leads).toHaveLength(1);
  });
});

describe('idempotence', () => {
  it('the answer to the Lead-and-Task call is lost: the retry finds both and writes nothing more (4 calls in all)', async () => {
    const { sandbox, service } = await setup();
    sandbox.failNext(1, {
      match: { method: 'POST', path: '/sobjects/Task' },
      afterEffect: true,
      reset: true,
    });
    const id = await send(service, salesforceLead());
    const row = await settled(service, id, 'delivered');
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks).toHaveLength(1);
    expect(row.result).toMatchObject({
      id: sandbox.leads[0]!.Id,
      action: 'updated',
      task_id: sandbox.tasks[0]!.Id,
      task: 'existing',
    });
    expect((await attemptsOf(service, id)).map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    // The retry looked for the first attempt's Task on the Lead it found, found it, and so
    // knew the Lead was written with it (one transaction): no second write of either.
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: POST /sobjects/Lead, POST /sobjects/Task',
      'POST /composite: GET query Lead, GET query Contact',
      'GET query Task',
    ]);
    expect(writes(sandbox).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /services/data/v62.0/sobjects/Lead',
      'POST /services/data/v62.0/sobjects/Task',
    ]);
  });

  it('a timeout after the Lead and Task were written still leaves one of each', async () => {
    const { sandbox, service } = await setup((s) => ({ ...sandboxAuth(s), timeout: '300ms' }));
    sandbox.failNext(1, {
      match: { method: 'POST', path: '/sobjects/Task' },
      afterEffect: true,
      delayMs: 1500,
    });
    const id = await send(service, salesforceLead());
    await settled(service, id, 'delivered');
    const attempts = await attemptsOf(service, id);
    expect(attempts[0]!.error).toBe('Salesforce did not answer the Lead and its Task within 300 ms');
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks).toHaveLength(1);
  });

  it('a returning lead whose update and Task were written, answer lost: the retry does not add a second Task', async () => {
    const { sandbox, service } = await setup();
    const leadId = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Email: 'dana@acme.example' });
    sandbox.failNext(1, {
      match: { method: 'PATCH', path: '/sobjects/Lead/' },
      afterEffect: true,
      status: 502,
    });
    const id = await send(
      service,
      salesforceLead({ contact: { email: 'dana@acme.example', name: 'Dana Reyes', job_title: 'CTO' } }),
    );
    const row = await settled(service, id, 'delivered');
    expect(row.result).toMatchObject({ id: leadId, action: 'updated', task: 'existing' });
    expect(sandbox.tasks.map((t) => t.WhoId)).toEqual([leadId]);
    expect(sandbox.leads).toEqual([expect.objectContaining({ Id: leadId, Title: 'CTO' })]);
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: PATCH /sobjects/Lead/{id}, POST /sobjects/Task',
      'POST /composite: GET query Lead, GET query Contact',
      'GET query Task',
    ]);
  });
});

describe('the record and its Task in one composite call, all or none', () => {
  it("a Task Salesforce refuses rolls the new Lead back: dead with the Task's reason, nothing written", async () => {
    const { sandbox, service } = await setup();
    sandbox.addValidationRule('Task', {
      message: 'Chatbot Tasks need a due date',
      field: 'ActivityDate',
      when: () => true,
    });
    const id = await send(service, salesforceLead());
    const row = await settled(service, id);
    expect(row).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error:
        'Salesforce rejected the Task: FIELD_CUSTOM_VALIDATION_EXCEPTION: Chatbot Tasks need a due date (fields: ActivityDate) (the new Lead was rolled back with it: the record and its Task are written together or not at all)',
    });
    expect((await attemptsOf(service, id))[0]).toMatchObject({ outcome: 'dead', status_code: 400 });
    expect(sandbox.leads).toEqual([]);
    expect(sandbox.tasks).toEqual([]);
    // Salesforce's answer, subrequest by subrequest: the Lead was created, then undone.
    const write = sandbox.apiRequests().at(-1)!;
    expect(write.subrequests!.map((sub) => [sub.referenceId, sub.status])).toEqual([
      ['record', 400],
      ['task', 400],
    ]);
  });

  it('a Task that meets UNABLE_TO_LOCK_ROW: retried, and the retry writes the Lead and the Task once', async () => {
    const { sandbox, service } = await setup();
    sandbox.failNext(1, {
      subrequest: true,
      match: { method: 'POST', path: '/sobjects/Task' },
      errorCode: 'UNABLE_TO_LOCK_ROW',
      message: 'unable to obtain exclusive access to this record or 1 records: 00Q5g000001AbCdEAK',
    });
    const id = await send(service, salesforceLead());
    const row = await settled(service, id, 'delivered');
    const attempts = await attemptsOf(service, id);
    expect(attempts.map((a) => [a.outcome, a.status_code])).toEqual([
      ['retry', 400],
      ['delivered', 201],
    ]);
    expect(attempts[0]!.error).toBe(
      'Salesforce rejected the Task: UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records: 00Q5g000001AbCdEAK (the new Lead was rolled back with it: the record and its Task are written together or not at all)',
    );
    // Nothing survived the first attempt, so the retry is a first delivery again: no Task look-up.
    expect(row.result).toMatchObject({ action: 'created', task: 'created' });
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks).toEqual([expect.objectContaining({ WhoId: sandbox.leads[0]!.Id })]);
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: POST /sobjects/Lead, POST /sobjects/Task',
      'POST /composite: GET query Lead, GET query Contact',
      'POST /composite: POST /sobjects/Lead, POST /sobjects/Task',
    ]);
  });
});

describe('batching', () => {
  it('delivers 200 events with sObject Collections: four calls, one outcome per event', async () => {
    const { sandbox, service } = await setup(sandboxAuth, { worker: false });
    const events = Array.from({ length: 200 }, (_, i) =>
      salesforceLead({
        contact: {
          email: i === 57 ? 'person57@batch' : `person${i}@batch.example`,
          name: `Person ${i}`,
          company: 'Batch Inc',
        },
      }),
    );
    const existing = new Map<number, string>();
    for (let i = 0; i < 10; i++)
      existing.set(
        i * 20,
        sandbox.seed('Lead', {
          LastName: 'Old',
          Company: 'Batch Inc',
          Email: `person${i * 20}@batch.example`,
        }),
      );
    const ids: string[] = [];
    for (const event of events) ids.push(await send(service, event));

    // Start the worker only now, so that all 200 rows are due together.
    const worker = new DeliveryWorker({
      store: service.store,
      config: service.config,
      logger: service.logger,
      pollIntervalMs: 50,
    });
    worker.start();
    cleanups.push(() => worker.stop());
    await until(
      async () =>
        (await Promise.all(ids.map((id) => deliveryOf(service, id)))).every(
          (r) => r.status !== 'pending' && r.status !== 'leased',
        ),
      'all 200 finished',
      20_000,
    );

    const rows = await Promise.all(ids.map((id) => deliveryOf(service, id)));
    expect(rows.filter((r) => r.status === 'delivered')).toHaveLength(199);
    expect(rows[57]).toMatchObject({
      status: 'dead',
      last_error:
        'Salesforce rejected the Lead: INVALID_EMAIL_ADDRESS: Email: invalid email address: person57@batch (fields: Email)',
    });
    for (const [i, leadId] of existing)
      expect(rows[i]!.result).toMatchObject({ id: leadId, action: 'updated' });
    expect(rows[1]!.result).toMatchObject({ object: 'Lead', action: 'created', task: 'created' });
    expect(new Set(rows.map((r) => r.result?.id)).size).toBe(200); // 199 ids + undefined for the dead one

    expect(sandbox.leads).toHaveLength(199);
    expect(sandbox.tasks).toHaveLength(199);
    expect(sandbox.requests.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    // 200 emails do not fit in one query URL (Salesforce allows 16 KB): two look-ups per object,
    // all four in one composite call. A first attempt looks for no Tasks of its own.
    expect(calls(sandbox)).toEqual([
      'POST /composite: GET query Lead, GET query Contact, GET query Lead, GET query Contact',
      'POST /composite/sobjects (190)',
      'PATCH /composite/sobjects (10)',
      'POST /composite/sobjects (199)',
    ]);
  });
});
