import { describe, expect, it } from 'vitest';
import { SalesforceSandbox } from '../sandboxes/salesforce/index.ts';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import {
  attemptsOf,
  contextFor,
  type DeliveryRow,
  salesforceFor,
  sandboxAuth,
  send,
  settled,
  webhookSecret,
} from './fixtures/salesforce/helpers.ts';
import { startWorkerProcess } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { startTestService, type TestService } from './helpers/harness.ts';
import { until } from './helpers/until.ts';

/*
 * One person, one Salesforce record (issue #20): the real service (ingest,
 * outbox, worker, identity map) with a `type: salesforce` connector, real
 * jsforce, and the Salesforce sandbox as the org. Each case counts the API
 * calls the org charged: two per event, whatever the identity map adds (the
 * known record is read by Id in the same look-up call).
 */

const cleanups = cleanupsAfter('each');

async function setup(
  connector: Record<string, unknown> = {},
  options: {
    worker?: boolean;
    main?: Record<string, unknown>;
    connectors?: Record<string, Record<string, unknown>>;
  } = {},
) {
  const sandbox = await SalesforceSandbox.start();
  cleanups.push(() => sandbox.close());
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [webhookSecret] } } },
      routes: [{ on: ['lead.qualified', 'conversation.escalated'], to: ['salesforce'] }],
      delivery: { poll_interval: '50ms', lease: '2s', retry_schedule: ['0s', '100ms', '500ms', '1s'] },
      ...options.main,
    },
    {
      worker: options.worker ?? true,
      connectors: {
        salesforce: { type: 'salesforce', ...sandboxAuth(sandbox), ...connector },
        ...options.connectors,
      },
      random: () => 0.5,
    },
  );
  cleanups.push(() => service.close());
  return { sandbox, service };
}

let counter = 0;

/** A chatbot event of one conversation; `contact` is exactly what the bot knew then. */
function chatEvent(
  type: 'lead.qualified' | 'conversation.escalated',
  conversation: string,
  contact: Record<string, unknown>,
): Record<string, unknown> {
  counter++;
  return {
    id: `evt_identity_${process.pid}_${Date.now()}_${counter}`,
    type,
    occurred_at: '2026-11-25T10:04:00Z',
    contact,
    conversation: {
      id: conversation,
      channel: 'web',
      messages: [{ role: 'user', text: `message ${counter}`, at: '2026-11-25T10:01:00Z' }],
    },
    ...(type === 'conversation.escalated' ? { escalation: { reason: 'asked for a human' } } : {}),
  };
}

const PHONE = '+1 415 555 0142';
const dana = { name: 'Dana Reyes' };

async function deliver(service: TestService, event: Record<string, unknown>): Promise<DeliveryRow> {
  return settled(service, await send(service, event), 'delivered');
}

/** The identity map of the `salesforce` connector: identifier → record. */
async function identities(service: TestService): Promise<Record<string, string>> {
  const rows = await service.store.db
    .selectFrom('identities')
    .select(['identifier', 'record'])
    .where('connector', '=', 'salesforce')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.identifier, row.record]));
}

/** The API calls the org counted, one line each: `POST /composite: GET query Lead, GET query Contact`. */
function calls(sandbox: SalesforceSandbox, from = 0): string[] {
  const short = (path: string) =>
    path.replace('/services/data/v62.0', '').replace(/\/(00Q|003|00T)\w{12,15}$/, '/{id}');
  const line = (op: { method: string; path: string; soql?: string }) =>
    op.soql ? `${op.method} query ${/FROM (\w+)/.exec(op.soql)![1]}` : `${op.method} ${short(op.path)}`;
  expect(sandbox.apiUsage).toBe(sandbox.apiRequests().length);
  return sandbox
    .apiRequests()
    .slice(from)
    .map((r) => (r.subrequests ? `${line(r)}: ${r.subrequests.map(line).join(', ')}` : line(r)));
}

const LOOKUP = 'POST /composite: GET query Lead, GET query Contact';
const CREATE = 'POST /composite: POST /sobjects/Lead, POST /sobjects/Task';

/** The WHERE clauses of the look-ups since request `from`. */
function lookups(sandbox: SalesforceSandbox, from: number): string[] {
  return sandbox
    .operations()
    .slice(from)
    .flatMap((op) => (op.soql ? [op.soql.replace(/^SELECT .* FROM /, '')] : []));
}

describe('one person, one Salesforce record', () => {
  it('phone first, then email in the same conversation: one Lead holding both Tasks (2 calls each)', async () => {
    const { sandbox, service } = await setup();
    const first = await deliver(
      service,
      chatEvent('conversation.escalated', 'conv_same_visitor', { ...dana, phone: PHONE }),
    );
    expect(first.result).toMatchObject({ object: 'Lead', action: 'created' });
    const leadId = String(first.result!.id);
    const before = sandbox.operations().length;

    const second = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_same_visitor', {
        ...dana,
        email: 'dana@acme.example',
        company: 'Acme Corp',
      }),
    );
    expect(second.result).toMatchObject({ object: 'Lead', id: leadId, action: 'updated', found_by: 'known' });
    expect(sandbox.leads).toEqual([
      expect.objectContaining({
        Id: leadId,
        Phone: '+14155550142',
        Email: 'dana@acme.example',
        Company: 'Acme Corp',
      }),
    ]);
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([leadId, leadId]);
    // The known Lead is read by Id in the same query as the email: no call of its own.
    expect(lookups(sandbox, before)).toEqual([
      `Lead WHERE Id = '${leadId}' OR Email = 'dana@acme.example'`,
      `Contact WHERE Email = 'dana@acme.example'`,
    ]);
    expect(calls(sandbox)).toEqual([
      LOOKUP,
      CREATE,
      LOOKUP,
      'POST /composite: PATCH /sobjects/Lead/{id}, POST /sobjects/Task',
    ]);
    expect(await identities(service)).toEqual({
      'conversation:site:conv_same_visitor': `Lead:${leadId}`,
      'phone:+14155550142': `Lead:${leadId}`,
      'email:dana@acme.example': `Lead:${leadId}`,
    });
  });

  it('a second email for a known visitor: the same Lead keeps its email, and both emails find it', async () => {
    const { sandbox, service } = await setup();
    const first = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_a', { ...dana, id: 'visitor_42', email: 'dana@acme.example' }),
    );
    const leadId = String(first.result!.id);
    // Another conversation of the same visitor (the platform's visitor id), with another email.
    const second = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_b', { ...dana, id: 'visitor_42', email: 'dana.reyes@home.example' }),
    );
    expect(second.result).toMatchObject({
      id: leadId,
      action: 'updated',
      found_by: 'known',
      email_not_written: 'dana.reyes@home.example',
    });
    // A third conversation, nothing but the second email: the map knows it.
    const third = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_c', { ...dana, email: 'Dana.Reyes@home.example' }),
    );
    expect(third.result).toMatchObject({ id: leadId, action: 'updated', found_by: 'known' });
    expect(sandbox.leads).toEqual([expect.objectContaining({ Id: leadId, Email: 'dana@acme.example' })]);
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([leadId, leadId, leadId]);
    expect(await identities(service)).toMatchObject({
      'visitor:site:visitor_42': `Lead:${leadId}`,
      'email:dana@acme.example': `Lead:${leadId}`,
      'email:dana.reyes@home.example': `Lead:${leadId}`,
    });
    expect(sandbox.apiUsage).toBe(6);
  });

  it('an email that belongs to another existing Lead: delivered there, the conflict shown, nothing merged', async () => {
    const ops = await WebhookSandbox.start();
    cleanups.push(() => ops.close());
    const { sandbox, service } = await setup(
      {},
      {
        main: { alerts: { to: 'ops', admin_url: 'https://leadrelay.example/admin' } },
        connectors: { ops: { type: 'webhook', url: `${ops.url}/ops` } },
      },
    );
    const other = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Email: 'dana@acme.example' });
    const first = await deliver(
      service,
      chatEvent('conversation.escalated', 'conv_same_visitor', { ...dana, phone: PHONE }),
    );
    const phoneLead = String(first.result!.id);
    expect(phoneLead).not.toBe(other);

    const id = await send(
      service,
      chatEvent('lead.qualified', 'conv_same_visitor', { ...dana, email: 'dana@acme.example' }),
    );
    const second = await settled(service, id, 'delivered');
    const link = (lead: string) => `${sandbox.url}/lightning/r/Lead/${lead}/view`;
    expect(second.result).toMatchObject({
      object: 'Lead',
      id: other,
      action: 'updated',
      found_by: 'email',
      conflict: {
        identifier: 'email:dana@acme.example',
        known: `Lead:${phoneLead}`,
        used: `Lead:${other}`,
        links: [
          { label: `Lead ${phoneLead} (known for this person)`, url: link(phoneLead) },
          { label: `Lead ${other} (has email:dana@acme.example; delivered here)`, url: link(other) },
        ],
      },
    });
    const [attempt] = await attemptsOf(service, id);
    expect(attempt!.response_summary).toContain(
      `email:dana@acme.example belongs to Lead ${other}, not to Lead ${phoneLead} this person resolved to before: nothing merged`,
    );
    // Both Leads stay as they were apart from the event's own fields: the phone Lead gets no email.
    expect(sandbox.record(phoneLead)).toMatchObject({ Phone: '+14155550142' });
    expect(sandbox.record(phoneLead)!.Email ?? null).toBeNull();
    expect(sandbox.record(other)).toMatchObject({ Email: 'dana@acme.example' });
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([phoneLead, other]);
    // Only the email's identity moved; the conversation and the phone keep theirs.
    expect(await identities(service)).toEqual({
      'conversation:site:conv_same_visitor': `Lead:${phoneLead}`,
      'phone:+14155550142': `Lead:${phoneLead}`,
      'email:dana@acme.example': `Lead:${other}`,
    });
    expect(sandbox.apiUsage).toBe(4);
    // The ops alert names both records, with their links.
    await until(() => ops.delivered().length === 1, 'the conflict alert');
    const alert = JSON.parse(ops.delivered()[0]!.body) as { escalation: { summary: string } };
    expect(alert.escalation.summary).toContain(link(phoneLead));
    expect(alert.escalation.summary).toContain(link(other));
  });

  it('a known Lead converted in Salesforce: delivered to its Contact, and the map follows it', async () => {
    const { sandbox, service } = await setup();
    const first = await deliver(
      service,
      chatEvent('conversation.escalated', 'conv_same_visitor', { ...dana, phone: PHONE }),
    );
    const leadId = String(first.result!.id);
    const { contactId } = sandbox.convertLead(leadId);

    const second = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_same_visitor', { ...dana, email: 'dana@acme.example' }),
    );
    expect(second.result).toMatchObject({
      object: 'Contact',
      id: contactId,
      action: 'updated',
      found_by: 'known',
      converted_lead_id: leadId,
    });
    expect(sandbox.record(contactId)).toMatchObject({ Email: 'dana@acme.example', Phone: '+14155550142' });
    // Conversion moved the first Task; the second is written on the Contact.
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([contactId, contactId]);
    expect(await identities(service)).toEqual({
      'conversation:site:conv_same_visitor': `Contact:${contactId}`,
      'phone:+14155550142': `Contact:${contactId}`,
      'email:dana@acme.example': `Contact:${contactId}`,
    });
    // From now on the Contact is asked for by Id directly.
    const before = sandbox.operations().length;
    const third = await deliver(
      service,
      chatEvent('lead.qualified', 'conv_same_visitor', { ...dana, email: 'dana@acme.example' }),
    );
    expect(third.result).toMatchObject({ object: 'Contact', id: contactId, found_by: 'known' });
    expect(lookups(sandbox, before)).toEqual([
      `Lead WHERE Email = 'dana@acme.example'`,
      `Contact WHERE Id = '${contactId}' OR Email = 'dana@acme.example'`,
    ]);
    expect(sandbox.apiUsage).toBe(6);
  });

  it('a known Lead deleted in Salesforce: recreated once, and the new one is used from then on', async () => {
    const { sandbox, service } = await setup();
    const contact = { ...dana, email: 'dana@acme.example', phone: PHONE };
    const first = await deliver(service, chatEvent('lead.qualified', 'conv_same_visitor', contact));
    const deleted = String(first.result!.id);
    sandbox.deleteRecord(deleted);

    const second = await deliver(service, chatEvent('lead.qualified', 'conv_same_visitor', contact));
    expect(second).toMatchObject({ attempts: 1, result: { action: 'created', gone: [`Lead:${deleted}`] } });
    const recreated = String(second.result!.id);
    expect(recreated).not.toBe(deleted);
    expect(await identities(service)).toEqual({
      'conversation:site:conv_same_visitor': `Lead:${recreated}`,
      'email:dana@acme.example': `Lead:${recreated}`,
      'phone:+14155550142': `Lead:${recreated}`,
    });

    const third = await deliver(service, chatEvent('lead.qualified', 'conv_same_visitor', contact));
    expect(third.result).toMatchObject({ id: recreated, action: 'updated', found_by: 'known' });
    expect(sandbox.leads.map((lead) => lead.Id)).toEqual([recreated]);
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([recreated, recreated]);
    expect(sandbox.apiUsage).toBe(6);
  });

  it('deleted between the look-up and the write: retried once, then recreated', async () => {
    const { sandbox, service } = await setup();
    const contact = { ...dana, email: 'dana@acme.example' };
    const first = await deliver(service, chatEvent('lead.qualified', 'conv_1', contact));
    const deleted = String(first.result!.id);
    // The update of the known Lead is held while a user deletes the Lead.
    sandbox.failNext(1, { match: { method: 'PATCH', path: '/sobjects/Lead/' }, delayMs: 3_000 });
    const id = await send(service, chatEvent('lead.qualified', 'conv_1', contact));
    await until(
      () => sandbox.requests.some((r) => JSON.stringify(r.body ?? '').includes('"method":"PATCH"')),
      'the update of the known Lead sent',
    );
    sandbox.deleteRecord(deleted);
    const row = await settled(service, id, 'delivered');
    const attempts = await attemptsOf(service, id);
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['retry', 'delivered']);
    expect(attempts[0]!.error).toMatch(/ENTITY_IS_DELETED: entity is deleted/);
    expect(row.result).toMatchObject({ action: 'created', gone: [`Lead:${deleted}`] });
    expect(sandbox.leads).toHaveLength(1);
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([row.result!.id]);
  });
});

describe('a worker killed after Salesforce wrote, before leadrelay recorded the identity', {
  timeout: 300_000,
}, () => {
  /** The answer the sandbox holds back; the worker is killed long before it comes. */
  const HELD_MS = 120_000;

  const worker = (service: TestService) => startWorkerProcess(service.configFile, cleanups);

  /** Holds the answer to the next record-and-Task call, kills the worker once it wrote, lets another finish. */
  async function crashAfterWrite(sandbox: SalesforceSandbox, service: TestService, id: string) {
    const tasks = sandbox.tasks.length;
    sandbox.failNext(1, {
      match: { method: 'POST', path: '/sobjects/Task' },
      afterEffect: true,
      delayMs: HELD_MS,
    });
    const first = await worker(service);
    await until(() => sandbox.tasks.length === tasks + 1, 'the record and its Task written', 90_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await worker(service);
    const row = await settled(service, id, 'delivered');
    second.child.kill('SIGKILL');
    await second.exited;
    return row;
  }

  it('the retry finds the record (by phone, then by the known record) and its Task: no duplicate, the map complete', async () => {
    const { sandbox, service } = await setup({ timeout: '200s' }, { worker: false });
    const escalation = await send(
      service,
      chatEvent('conversation.escalated', 'conv_same_visitor', { ...dana, phone: PHONE }),
    );
    const first = await crashAfterWrite(sandbox, service, escalation);
    const leadId = sandbox.leads[0]!.Id;
    // Nothing was recorded before the kill; the retry found the Lead by its phone and the Task by its marker.
    expect(first.result).toMatchObject({
      id: leadId,
      action: 'updated',
      found_by: 'phone',
      task: 'existing',
    });
    expect(await identities(service)).toEqual({
      'conversation:site:conv_same_visitor': `Lead:${leadId}`,
      'phone:+14155550142': `Lead:${leadId}`,
    });

    const qualified = await send(
      service,
      chatEvent('lead.qualified', 'conv_same_visitor', { ...dana, email: 'dana@acme.example' }),
    );
    const second = await crashAfterWrite(sandbox, service, qualified);
    expect(second.result).toMatchObject({ id: leadId, found_by: 'known', task: 'existing' });
    expect(sandbox.leads).toEqual([expect.objectContaining({ Id: leadId, Email: 'dana@acme.example' })]);
    expect(sandbox.tasks.map((task) => task.WhoId)).toEqual([leadId, leadId]);
    expect(await identities(service)).toMatchObject({ 'email:dana@acme.example': `Lead:${leadId}` });
    // Each retry: the look-ups, then the Task look-up, and no write.
    expect(calls(sandbox)).toEqual([
      LOOKUP,
      CREATE,
      LOOKUP,
      'GET query Task',
      LOOKUP,
      'POST /composite: PATCH /sobjects/Lead/{id}, POST /sobjects/Task',
      LOOKUP,
      'GET query Task',
    ]);
  });
});

describe('the connector alone (deliverBatch, settings)', () => {
  it('a batch with the phone-first event and the email event of one conversation: one Lead, in order', async () => {
    const sandbox = await SalesforceSandbox.start();
    cleanups.push(() => sandbox.close());
    const connector = salesforceFor(sandboxAuth(sandbox));
    const escalation = chatEvent('conversation.escalated', 'conv_same_visitor', { ...dana, phone: PHONE });
    const qualified = chatEvent('lead.qualified', 'conv_same_visitor', {
      ...dana,
      email: 'dana@acme.example',
    });
    const withIdentifiers = (event: Record<string, unknown>, identifiers: string[]) => ({
      ...contextFor(event),
      identifiers,
      known: {},
    });
    const outcomes = await connector.deliverBatch!([
      withIdentifiers(escalation, ['conversation:site:conv_same_visitor', 'phone:+14155550142']),
      withIdentifiers(qualified, ['conversation:site:conv_same_visitor', 'email:dana@acme.example']),
    ]);
    const leadId = sandbox.leads[0]?.Id;
    expect(sandbox.leads).toEqual([
      expect.objectContaining({ Phone: '+14155550142', Email: 'dana@acme.example' }),
    ]);
    expect(outcomes).toMatchObject([
      { data: { id: leadId, action: 'created' }, identity: { record: `Lead:${leadId}` } },
      { data: { id: leadId, action: 'updated', found_by: 'known' }, identity: { record: `Lead:${leadId}` } },
    ]);
  });

  it('a phone-only Lead gets the email of a later conversation with that phone; a Lead with another email does not', async () => {
    const sandbox = await SalesforceSandbox.start();
    cleanups.push(() => sandbox.close());
    const connector = salesforceFor(sandboxAuth(sandbox));
    const phoneOnly = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Phone: '+14155550142' });
    const found = await connector.deliver(
      contextFor(
        chatEvent('lead.qualified', 'conv_p', { ...dana, email: 'dana@acme.example', phone: PHONE }),
      ),
    );
    expect(found.data).toMatchObject({ id: phoneOnly, action: 'updated', found_by: 'phone' });
    expect(sandbox.record(phoneOnly)).toMatchObject({ Email: 'dana@acme.example' });
    // The same line, another person's email on the Lead: a shared phone is not the same person.
    const other = await connector.deliver(
      contextFor(chatEvent('lead.qualified', 'conv_q', { ...dana, email: 'sam@acme.example', phone: PHONE })),
    );
    expect(other.data).toMatchObject({ action: 'created' });
    expect(sandbox.leads).toHaveLength(2);
  });

  it('preview shows the known record read by Id in the look-up, and its update as one outcome', async () => {
    const sandbox = await SalesforceSandbox.start();
    cleanups.push(() => sandbox.close());
    const connector = salesforceFor(sandboxAuth(sandbox));
    const leadId = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Phone: '+14155550142' });
    const context = {
      ...contextFor(chatEvent('lead.qualified', 'conv_p', { ...dana, email: 'dana@acme.example' })),
      identifiers: ['conversation:site:conv_p', 'email:dana@acme.example'],
      known: { 'conversation:site:conv_p': `Lead:${leadId}` },
    };
    const planned = connector.preview(context);
    const lookup = planned.find((request) => request.note?.startsWith('finds Leads and Contacts'));
    expect(decodeURIComponent(JSON.stringify(lookup?.body))).toContain(
      `FROM Lead WHERE Id = '${leadId}' OR Email = 'dana@acme.example'`,
    );
    expect(lookup?.note).toContain(`Lead ${leadId} (known from earlier deliveries to this person) by Id`);
    const update = planned.find((request) =>
      JSON.stringify(request.body ?? {}).includes(`"url":"/services/data/v62.0/sobjects/Lead/${leadId}"`),
    );
    expect(update?.note).toMatch(/^instead, when Lead \w+ is still there and open/);
    // And the delivery does what preview said.
    const result = await connector.deliver(context);
    expect(result.data).toMatchObject({ id: leadId, found_by: 'known' });
  });

  it('match.order is configurable: without `known`, the email event creates a second Lead', async () => {
    const sandbox = await SalesforceSandbox.start();
    cleanups.push(() => sandbox.close());
    const connector = salesforceFor({ ...sandboxAuth(sandbox), match: { order: ['email', 'phone'] } });
    const first = await connector.deliver(
      contextFor(chatEvent('conversation.escalated', 'conv_x', { ...dana, phone: PHONE })),
    );
    const second = await connector.deliver({
      ...contextFor(chatEvent('lead.qualified', 'conv_x', { ...dana, email: 'dana@acme.example' })),
      identifiers: ['conversation:site:conv_x', 'email:dana@acme.example'],
      known: { 'conversation:site:conv_x': `Lead:${first.data!.id}` },
    });
    expect(second.data).toMatchObject({ action: 'created' });
    expect(sandbox.leads).toHaveLength(2);
    expect(() => salesforceFor({ ...sandboxAuth(sandbox), match: { order: ['email', 'email'] } })).toThrow(
      /lists a step twice/,
    );
  });
});
