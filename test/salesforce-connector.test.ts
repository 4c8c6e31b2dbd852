import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../connectors/errors.ts';
import type { DeliveryResult, PlannedRequest } from '../connectors/types.ts';
import {
  SANDBOX_DEFAULTS,
  SalesforceSandbox,
  type SalesforceSandboxOptions,
} from '../sandboxes/salesforce/index.ts';
import {
  contextFor,
  salesforceFor,
  salesforceLead,
  sandboxAuth,
  send,
  serviceFor,
  settled,
} from './fixtures/salesforce/helpers.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';

/*
 * The real connector (settings parsed as the loader does, real jsforce)
 * against the Salesforce sandbox, for what is easier to see one call at a
 * time than through the service: the requests preview promises, escaping,
 * external IDs, the JWT bearer flow, limits of fields and URLs, batches.
 */

const cleanups = cleanupsAfter('each');

async function sandboxWith(options: SalesforceSandboxOptions = {}) {
  const sandbox = await SalesforceSandbox.start(options);
  cleanups.push(() => sandbox.close());
  return sandbox;
}

function delivered(outcome: DeliveryResult | DeliveryError | undefined): DeliveryResult {
  if (outcome instanceof DeliveryError || !outcome)
    throw new Error(`expected a result, got ${outcome?.message}`);
  return outcome;
}

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error('expected the delivery to fail');
}

const path = (url: string, sandbox: SalesforceSandbox) => url.replace(sandbox.url, '');

describe('preview', () => {
  /** The requests the sandbox received, in preview's terms (path with query string, parsed body). */
  function received(sandbox: SalesforceSandbox, from = 0) {
    return sandbox.requests.slice(from).map((r) => ({
      method: r.method,
      url: r.soql === undefined ? r.path : `${r.path}?q=${encodeURIComponent(r.soql)}`,
      body: r.body,
    }));
  }

  function fill(request: PlannedRequest, ids: Record<string, string>, sandbox: SalesforceSandbox) {
    let text = JSON.stringify({
      method: request.method,
      url: path(request.url, sandbox),
      body: request.body,
    });
    for (const [placeholder, id] of Object.entries(ids)) {
      text = text.replaceAll(placeholder, id).replaceAll(encodeURIComponent(placeholder), id);
    }
    return JSON.parse(text) as { method: string; url: string; body?: unknown };
  }

  it('lists exactly the requests a delivery sends: a new Lead', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    const context = contextFor(salesforceLead());
    const planned = connector.preview(context);
    const result = await connector.deliver(context);
    const leadId = String(result.data?.id);
    const sent = received(sandbox);

    // The look-ups in one composite call, the Lead and its Task in another.
    expect(sent.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'POST /services/oauth2/token',
      'POST /services/data/v62.0/composite',
      'POST /services/data/v62.0/composite',
    ]);
    const expected = planned.map((request) =>
      fill(request, { '{Id of the Lead or Contact}': leadId }, sandbox),
    );
    for (const request of sent.slice(1)) expect(expected).toContainEqual(request);
    expect(sent[2]!.body).toMatchObject({
      allOrNone: true,
      compositeRequest: [
        { method: 'POST', url: '/services/data/v62.0/sobjects/Lead', referenceId: 'record' },
        {
          method: 'POST',
          url: '/services/data/v62.0/sobjects/Task',
          referenceId: 'task',
          body: expect.objectContaining({ WhoId: '@{record.id}' }),
        },
      ],
    });
    // The token request: same endpoint and grant, secret masked.
    expect(expected[0]).toMatchObject({
      method: 'POST',
      url: '/services/oauth2/token',
      body: {
        grant_type: 'client_credentials',
        client_id: SANDBOX_DEFAULTS.clientId,
        client_secret: '••••••',
      },
    });
    // Requests that depend on an answer say so.
    expect(
      planned.find((r) => JSON.stringify(r.body ?? {}).includes('"url":"/services/data/v62.0/sobjects/Lead"'))
        ?.note,
    ).toBe(
      'only if the look-ups found no Lead or Contact: the Lead and its Task in one call (one API request), written together or not at all',
    );
    expect(JSON.stringify(planned)).not.toContain(SANDBOX_DEFAULTS.clientSecret);
    expect(
      planned.every((r) => !r.headers?.Authorization || r.headers.Authorization === 'Bearer ••••••'),
    ).toBe(true);
  });

  it('lists exactly the requests a delivery sends: an existing Lead, and a retry that finds its Task', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor({
      instance_url: sandbox.url,
      access_token: SANDBOX_DEFAULTS.accessToken,
    });
    const event = salesforceLead();
    const leadId = sandbox.seed('Lead', {
      LastName: 'Reyes',
      Company: 'Acme',
      Email: (event.contact as { email: string }).email,
    });
    const context = contextFor(event);
    const planned = connector.preview(context);
    await connector.deliver(context);
    const expected = planned.map((request) =>
      fill(request, { '{Lead.Id}': leadId, '{Id of the Lead or Contact}': leadId }, sandbox),
    );
    const sent = received(sandbox);
    // A first attempt does not look for a Task of its own: no earlier attempt could have made one.
    expect(sent.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'POST /services/data/v62.0/composite',
      'POST /services/data/v62.0/composite',
    ]);
    for (const request of sent) expect(expected).toContainEqual(request);
    // An access token needs no token request.
    expect(planned.some((r) => r.url.includes('oauth2'))).toBe(false);

    // A retry of the same event (its outcome was never recorded) finds the Task and writes nothing.
    const from = sandbox.requests.length;
    const retry = await connector.deliver({ ...context, attempt: 2, earlierAttemptsEndedBy: Date.now() });
    expect(retry.data).toMatchObject({ id: leadId, task: 'existing' });
    const again = received(sandbox, from);
    expect(again.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'POST /services/data/v62.0/composite',
      'GET /services/data/v62.0/query',
    ]);
    for (const request of again) expect(expected).toContainEqual(request);
    expect(sandbox.tasks).toHaveLength(1);
  });
});

describe('errors', () => {
  it("a gateway's HTML error page: retried, with the page's text rather than markup", async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    sandbox.failNext(1, {
      status: 502,
      body: '<html><body><h1>502 Bad Gateway</h1><p>upstream is restarting</p></body></html>',
      contentType: 'text/html',
    });
    const error = await failure(connector.deliver(contextFor(salesforceLead())));
    expect(error.retryable).toBe(true);
    expect(error.statusCode).toBe(502);
    expect(error.message).toBe(
      'Salesforce rejected the look-up of existing Leads and Contacts: ERROR_HTTP_502: 502 Bad Gateway upstream is restarting',
    );
  });
  it("a composite call Salesforce refuses as a whole (LIMIT_EXCEEDED): dead with Salesforce's reason", async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    // The answer Salesforce gives a composite call over its limits (see sandboxes/salesforce/composite.ts).
    sandbox.failNext(1, {
      match: { path: /\/composite$/ },
      status: 200,
      contentType: 'application/json;charset=UTF-8',
      body: JSON.stringify({
        compositeResponse: [
          {
            body: [
              { errorCode: 'LIMIT_EXCEEDED', message: 'The request can’t contain more than 25 operations.' },
            ],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId: null,
          },
        ],
      }),
    });
    const error = await failure(connector.deliver(contextFor(salesforceLead())));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      'Salesforce rejected the look-up of existing Leads and Contacts: LIMIT_EXCEEDED: The request can’t contain more than 25 operations.',
    );
  });
});

describe('matching by email', () => {
  it("escapes the email in SOQL: o'brien\\x@ finds its Lead, and a quote cannot widen the query", async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    const tricky = "o'brien\\x@acme.example";
    const leadId = sandbox.seed('Lead', { LastName: "O'Brien", Company: 'Acme', Email: tricky });
    sandbox.seed('Lead', { LastName: 'Other', Company: 'Acme', Email: 'other@acme.example' });

    const result = await connector.deliver(
      contextFor(salesforceLead({ contact: { email: tricky, name: "Pat O'Brien" } })),
    );
    expect(result.data).toMatchObject({ id: leadId, action: 'updated' });
    expect(sandbox.operations()[0]!.soql).toBe(
      "SELECT Id, Email, Phone, IsConverted, ConvertedContactId FROM Lead WHERE Email = 'o\\'brien\\\\x@acme.example'",
    );

    // Unescaped, this would match every Lead (and be an "ambiguous match"); escaped, it matches none.
    const injection = "x' OR Email != 'y";
    const error = await failure(
      connector.deliver(contextFor(salesforceLead({ contact: { email: injection, name: 'Eve' } }))),
    );
    expect(error.message).toMatch(/^Salesforce rejected the Lead: INVALID_EMAIL_ADDRESS/);
  });

  it('matches by phone when the event has no email', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    const leadId = sandbox.seed('Lead', { LastName: 'Reyes', Company: 'Acme', Phone: '+14155550100' });
    const result = await connector.deliver(
      contextFor(salesforceLead({ contact: { phone: '(415) 555-0100', name: 'Dana Reyes' } })),
    );
    expect(result.data).toMatchObject({ id: leadId, action: 'updated' });
    expect(sandbox.operations()[0]!.soql).toContain("WHERE Phone = '+14155550100'");
  });

  it('with object: Contact, creates and updates Contacts (no Company, no Lead look-up)', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor({ ...sandboxAuth(sandbox), object: 'Contact' });
    const event = salesforceLead();
    const first = await connector.deliver(contextFor(event));
    expect(first.data).toMatchObject({ object: 'Contact', action: 'created' });
    expect(sandbox.contacts).toEqual([
      expect.objectContaining({ FirstName: 'Dana', LastName: 'Reyes', LeadSource: 'Chatbot', Title: 'COO' }),
    ]);
    const second = await connector.deliver(contextFor(salesforceLead({ contact: event.contact })));
    expect(second.data).toMatchObject({ object: 'Contact', id: first.data?.id, action: 'updated' });
    expect(sandbox.leads).toEqual([]);
    expect(sandbox.apiRequests().some((r) => r.soql?.includes('FROM Lead'))).toBe(false);
  });
});

describe('matching by an external ID (upsert)', () => {
  const externalIdFields = { Lead: ['Chat_Contact_Id__c'] };
  const keys = (sandbox: SalesforceSandbox) => ({
    ...sandboxAuth(sandbox),
    match: { by: 'external_id', external_id_field: 'Chat_Contact_Id__c' },
  });

  it('preview lists the look-up and the upsert a delivery sends', async () => {
    const sandbox = await sandboxWith({ externalIdFields });
    const connector = salesforceFor(keys(sandbox));
    const context = contextFor(
      salesforceLead({ contact: { email: 'dana@acme.example', name: 'Dana Reyes' } }),
    );
    const planned = connector
      .preview(context)
      .map((r) => ({ method: r.method, url: path(r.url, sandbox), body: r.body }));
    const result = await connector.deliver(context);
    const sent = sandbox.requests
      .filter((r) => r.path.startsWith('/services/data/'))
      .map((r) => ({
        method: r.method,
        url: r.soql === undefined ? r.path : `${r.path}?q=${encodeURIComponent(r.soql)}`,
        body: r.body,
      }));
    // The look-up, then the upsert and the Task in one composite call (the Task names the new Lead by reference).
    expect(sent.map((r) => r.method)).toEqual(['GET', 'POST']);
    expect(planned).toContainEqual(sent[0]);
    expect(planned).toContainEqual(sent[1]);
    expect(sandbox.operations().map((op) => `${op.method} ${op.path}`)).toEqual([
      'GET /services/data/v62.0/query',
      'PATCH /services/data/v62.0/sobjects/Lead/Chat_Contact_Id__c/dana%40acme.example',
      'POST /services/data/v62.0/sobjects/Task',
    ]);
    expect(result.data).toMatchObject({ action: 'created' });
  });

  it('refuses an external ID of "." or "..", which would change the request path, sending nothing', async () => {
    const sandbox = await sandboxWith({ externalIdFields });
    const connector = salesforceFor({
      ...keys(sandbox),
      match: {
        by: 'external_id',
        external_id_field: 'Chat_Contact_Id__c',
        external_id: '{{ contact.attributes.chat_id }}',
      },
    });
    for (const chatId of ['.', '..']) {
      const context = contextFor(
        salesforceLead({
          contact: { email: 'dana@acme.example', name: 'Dana Reyes', attributes: { chat_id: chatId } },
        }),
      );
      await expect(connector.deliver(context)).rejects.toThrow(/cannot be a Salesforce external ID/);
    }
    expect(sandbox.apiRequests().filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('upserts by the value, URL-encoded, and keeps LeadSource on update', async () => {
    const sandbox = await sandboxWith({ externalIdFields });
    const connector = salesforceFor(keys(sandbox));
    const contact = { email: 'Dana+Bot@acme.example', name: 'Dana Reyes' };
    const first = await connector.deliver(contextFor(salesforceLead({ contact })));
    expect(first.data).toMatchObject({ object: 'Lead', action: 'created' });
    const upserts = () => sandbox.operations().filter((r) => r.method === 'PATCH');
    expect(upserts().map((r) => [r.path, r.status])).toEqual([
      ['/services/data/v62.0/sobjects/Lead/Chat_Contact_Id__c/dana%2Bbot%40acme.example', 201],
    ]);
    expect(sandbox.leads).toEqual([
      expect.objectContaining({
        Chat_Contact_Id__c: 'dana+bot@acme.example',
        LeadSource: 'Chatbot',
        Company: '[not provided]',
      }),
    ]);

    sandbox.seed('Lead', { LastName: 'Unrelated', Company: 'X' });
    const second = await connector.deliver(
      contextFor(salesforceLead({ contact: { ...contact, company: 'Acme' } })),
    );
    expect(second.data).toMatchObject({ id: first.data?.id, action: 'updated' });
    expect(upserts()[1]).toMatchObject({
      status: 200,
      body: expect.not.objectContaining({ LeadSource: 'Chatbot' }),
    });
    expect(sandbox.leads[0]).toMatchObject({ Company: 'Acme', LeadSource: 'Chatbot' });
    expect(sandbox.tasks).toHaveLength(2);
  });

  it('several records with the value: dead with their ids, whether the look-up or the upsert finds them', async () => {
    const sandbox = await sandboxWith({ externalIdFields });
    const connector = salesforceFor(keys(sandbox));
    const a = sandbox.seed('Lead', { LastName: 'A', Company: 'X', Chat_Contact_Id__c: 'dana@acme.example' });
    const b = sandbox.seed('Lead', { LastName: 'B', Company: 'X', Chat_Contact_Id__c: 'dana@acme.example' });
    const context = () =>
      contextFor(salesforceLead({ contact: { email: 'dana@acme.example', name: 'Dana' } }));
    expect((await failure(connector.deliver(context()))).message).toBe(
      `ambiguous match: 2 Salesforce records have Chat_Contact_Id__c = dana@acme.example: Lead ${a}, Lead ${b}. leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
    );
    // The duplicates appear between the look-up and the upsert: Salesforce answers 300 Multiple Choices.
    sandbox.failNext(1, {
      match: { path: '/query' },
      status: 200,
      body: '{"totalSize":0,"done":true,"records":[]}',
      contentType: 'application/json;charset=UTF-8',
    });
    const raced = await failure(connector.deliver(context()));
    expect(raced.retryable).toBe(false);
    expect(raced.message).toBe(
      `ambiguous match: 2 Salesforce Lead records have Chat_Contact_Id__c = dana@acme.example: ${a}, ${b}. leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
    );
    expect(sandbox.leads).toHaveLength(2);
  });

  it('a converted Lead with the value: its Contact is updated', async () => {
    const sandbox = await sandboxWith({ externalIdFields });
    const connector = salesforceFor(keys(sandbox));
    const { contactId, leadId } = sandbox.seedConvertedLead({
      LastName: 'Reyes',
      Company: 'Acme',
      Chat_Contact_Id__c: 'dana@acme.example',
    });
    const result = await connector.deliver(
      contextFor(
        salesforceLead({ contact: { email: 'dana@acme.example', name: 'Dana Reyes', job_title: 'CTO' } }),
      ),
    );
    expect(result.data).toMatchObject({ object: 'Contact', id: contactId, converted_lead_id: leadId });
    expect(sandbox.contacts[0]).toMatchObject({ Title: 'CTO' });
  });
});

describe('the transcript Task', () => {
  it('with a Task external ID field: upserted by the event id, one Task even when the answer is lost', async () => {
    const sandbox = await sandboxWith({ externalIdFields: { Task: ['LeadRelay_Event_Id__c'] } });
    const connector = salesforceFor({
      ...sandboxAuth(sandbox),
      task: { external_id_field: 'LeadRelay_Event_Id__c' },
    });
    sandbox.failNext(1, {
      match: { method: 'PATCH', path: '/sobjects/Task/' },
      afterEffect: true,
      reset: true,
    });
    const context = contextFor(salesforceLead());
    const error = await failure(connector.deliver(context));
    expect(error.retryable).toBe(true);
    const result = await connector.deliver({ ...context, attempt: 2 });
    expect(sandbox.tasks).toEqual([
      expect.objectContaining({
        LeadRelay_Event_Id__c: context.eventId,
        Subject: 'Chatbot conversation (web)',
        WhoId: result.data?.id,
      }),
    ]);
    expect(result.data).toMatchObject({ task_id: sandbox.tasks[0]!.Id, task: 'existing' });
    expect(sandbox.apiRequests().some((r) => r.soql?.includes('FROM Task'))).toBe(false);
    expect(sandbox.operations('/sobjects/Task/').map((r) => r.path)).toEqual([
      `/services/data/v62.0/sobjects/Task/LeadRelay_Event_Id__c/${context.eventId}`,
      `/services/data/v62.0/sobjects/Task/LeadRelay_Event_Id__c/${context.eventId}`,
    ]);
  });

  it("keeps Description within Salesforce's 32,000 characters and Subject within 255", async () => {
    const sandbox = await sandboxWith();
    const messages = Array.from({ length: 400 }, (_, i) => ({
      role: i % 2 ? 'bot' : 'user',
      text: `${i} ${'x'.repeat(200)}`,
    }));
    const event = salesforceLead({ conversation: { id: 'long', channel: 'web', messages } });
    const defaults = salesforceFor(sandboxAuth(sandbox));
    await defaults.deliver(contextFor(event));
    const description = String(sandbox.tasks[0]!.Description);
    expect(description.length).toBeLessThanOrEqual(32_000);
    expect(description).toMatch(/^\[\d+ earlier messages not shown\]\n/);
    expect(description).toMatch(/399 x+$/);

    const custom = salesforceFor({
      ...sandboxAuth(sandbox),
      task: { subject: `Chat: ${'s'.repeat(300)}`, description: '{{ conversation | transcript }}' },
    });
    const context = contextFor(salesforceLead({ conversation: { id: 'long2', channel: 'web', messages } }));
    await custom.deliver(context);
    const task = sandbox.tasks[1]!;
    expect(String(task.Description)).toHaveLength(32_000);
    expect(String(task.Description).endsWith('…')).toBe(true);
    expect(String(task.Subject)).toHaveLength(255);
    expect(String(task.Subject).endsWith(`[leadrelay ${context.eventId}]`)).toBe(true);
  });

  it('can be turned off', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor({ ...sandboxAuth(sandbox), task: { enabled: false } });
    const result = await connector.deliver(contextFor(salesforceLead()));
    expect(result.summary).toMatch(/^Lead \w{18} created$/);
    expect(sandbox.tasks).toEqual([]);
    expect(connector.preview(contextFor(salesforceLead())).some((r) => r.url.includes('Task'))).toBe(false);
  });
});

describe('sessions', () => {
  it('INVALID_SESSION_ID again right after a renewal is dead, not a loop', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    sandbox.failNext(2, { errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' });
    const error = await failure(connector.deliver(contextFor(salesforceLead())));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/refused a freshly issued access token .*INVALID_SESSION_ID/);
    expect(sandbox.tokenRequests).toHaveLength(2);
    expect(sandbox.apiRequests()).toHaveLength(2);
  });

  it('concurrent deliveries that meet an expired token share one renewal', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    await connector.deliver(contextFor(salesforceLead()));
    sandbox.expireTokens();
    await Promise.all(Array.from({ length: 5 }, () => connector.deliver(contextFor(salesforceLead()))));
    expect(sandbox.tokenRequests.map((t) => t.ok)).toEqual([true, true]);
    expect(sandbox.leads).toHaveLength(6);
  });

  it('signs in with the JWT bearer flow, the private key from an environment variable', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const sandbox = await sandboxWith({ jwtPublicKey: publicKey, jwtUsername: 'integration@acme.example' });
    const service = await serviceFor(
      {
        instance_url: sandbox.url,
        login_url: sandbox.url,
        client_id: SANDBOX_DEFAULTS.clientId,
        username: 'integration@acme.example',
        private_key: '${SF_PRIVATE_KEY}',
      },
      // One line with \n escapes, as keys usually sit in .env files.
      { env: { SF_PRIVATE_KEY: pem.trim().replaceAll('\n', '\\n') } },
    );
    cleanups.push(() => service.close());
    const first = await send(service, salesforceLead());
    await settled(service, first, 'delivered');
    sandbox.expireTokens();
    const second = await send(service, salesforceLead());
    await settled(service, second, 'delivered');
    expect(sandbox.tokenRequests.map((t) => [t.grantType, t.ok])).toEqual([
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', true],
      ['urn:ietf:params:oauth:grant-type:jwt-bearer', true],
    ]);
  });

  it('a JWT signed with the wrong key is refused: dead with the OAuth error', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sandbox = await sandboxWith({ jwtPublicKey: publicKey });
    const connector = salesforceFor({
      instance_url: sandbox.url,
      login_url: sandbox.url,
      client_id: SANDBOX_DEFAULTS.clientId,
      username: 'integration@acme.example',
      private_key: otherKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const error = await failure(connector.deliver(contextFor(salesforceLead())));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `Salesforce refused to issue an access token (invalid_grant: invalid assertion) at ${sandbox.url}/services/oauth2/token`,
    );
  });
});

describe('batches', () => {
  it('reads every page of a look-up (nextRecordsUrl)', async () => {
    const sandbox = await sandboxWith({ queryPageSize: 5 });
    const connector = salesforceFor(sandboxAuth(sandbox));
    const events = Array.from({ length: 12 }, (_, i) =>
      salesforceLead({ contact: { email: `p${i}@pages.example`, name: `P ${i}` } }),
    );
    for (let i = 0; i < 12; i++)
      sandbox.seed('Lead', { LastName: `P ${i}`, Company: 'X', Email: `p${i}@pages.example` });
    const outcomes = await connector.deliverBatch!(events.map((event) => contextFor(event)));
    expect(outcomes.map((o) => delivered(o).data?.action)).toEqual(Array(12).fill('updated'));
    expect(sandbox.leads).toHaveLength(12);
    expect(sandbox.apiRequests('/query/01g').length).toBeGreaterThanOrEqual(2);
  });

  it('two events for the same person in one batch: one Lead, two Tasks, in order', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    const first = salesforceLead();
    const second = salesforceLead({ contact: { ...(first.contact as object), job_title: 'CEO' } });
    const outcomes = await connector.deliverBatch!([
      contextFor(first),
      contextFor(second),
      contextFor(salesforceLead()),
    ]);
    expect(outcomes.map((o) => delivered(o).data?.action)).toEqual(['created', 'updated', 'created']);
    expect(delivered(outcomes[1]).data?.id).toBe(delivered(outcomes[0]).data?.id);
    expect(sandbox.leads).toHaveLength(2);
    expect(sandbox.leads[0]).toMatchObject({ Title: 'CEO' });
    expect(sandbox.tasks).toHaveLength(3);
  });

  it('a batch delivered but never recorded: the retry finds every record and Task and writes nothing (2 calls)', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    sandbox.seed('Lead', { LastName: 'Old', Company: 'X', Email: 'p0@retry.example' });
    const contexts = Array.from({ length: 5 }, (_, i) =>
      contextFor(salesforceLead({ contact: { email: `p${i}@retry.example`, name: `P ${i}` } })),
    );
    // The first attempt writes everything; its worker dies before recording it (the crash window).
    const first = await connector.deliverBatch!(contexts);
    expect(first.map((o) => delivered(o).data?.task)).toEqual(Array(5).fill('created'));
    const from = sandbox.apiRequests().length;
    const retried = await connector.deliverBatch!(
      contexts.map((context) => ({ ...context, attempt: 2, earlierAttemptsEndedBy: Date.now() })),
    );
    expect(retried.map((o) => delivered(o).data)).toEqual(
      first.map((o) =>
        expect.objectContaining({
          id: delivered(o).data?.id,
          task_id: delivered(o).data?.task_id,
          task: 'existing',
        }),
      ),
    );
    expect(sandbox.leads).toHaveLength(5);
    expect(sandbox.tasks).toHaveLength(5);
    const retryCalls = sandbox.apiRequests().slice(from);
    expect(retryCalls.map((r) => `${r.method} ${r.path.replace('/services/data/v62.0', '')}`)).toEqual([
      'POST /composite',
      'GET /query',
    ]);
    expect(retryCalls[1]!.soql).toMatch(/^SELECT Id, WhoId, Subject FROM Task WHERE WhoId IN \(/);
  });

  it('a collection call that fails as a whole fails every event in it, retryably', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    sandbox.failNext(1, { match: { path: '/composite/sobjects' }, status: 503 });
    const outcomes = await connector.deliverBatch!([
      contextFor(salesforceLead()),
      contextFor(salesforceLead()),
    ]);
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(DeliveryError);
      expect((outcome as DeliveryError).retryable).toBe(true);
      expect((outcome as DeliveryError).message).toMatch(
        /^Salesforce rejected the batch of 2 Lead records: SERVER_UNAVAILABLE/,
      );
    }
    expect(sandbox.leads).toEqual([]);
  });

  it('an event with nothing to match on fails alone', async () => {
    const sandbox = await sandboxWith();
    const connector = salesforceFor(sandboxAuth(sandbox));
    const outcomes = await connector.deliverBatch!([
      contextFor(salesforceLead({ contact: { name: 'Nobody' } })),
      contextFor(salesforceLead()),
    ]);
    expect((outcomes[0] as DeliveryError).message).toBe(
      'nothing to match on: the event has neither an email nor a phone number',
    );
    expect(delivered(outcomes[1]).data?.action).toBe('created');
  });
});
