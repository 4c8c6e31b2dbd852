import jsforce from 'jsforce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transportFailure } from '../connectors/transport-failure.ts';
import { SANDBOX_DEFAULTS, SalesforceSandbox } from '../sandboxes/salesforce/index.ts';

/*
 * The sandbox answers like Salesforce's REST API (shapes from Salesforce's
 * documentation), checked with plain HTTP so that no client code hides a
 * difference. The connector tests rely on these shapes.
 */

let sandbox: SalesforceSandbox;
beforeAll(async () => {
  sandbox = await SalesforceSandbox.start({ externalIdFields: { Lead: ['Chat_Id__c'] } });
});
afterAll(() => sandbox.close());

async function call(method: string, path: string, body?: unknown, token = SANDBOX_DEFAULTS.accessToken) {
  const response = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const v = '/services/data/v62.0';
const query = (soql: string) => call('GET', `${v}/query?q=${encodeURIComponent(soql)}`);

/** Salesforce's 18-character id suffix: one letter per 5 characters, from which of them are upper case. */
function checksum(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id15[chunk * 5 + i]!)) bits += 2 ** i;
    suffix += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'[bits];
  }
  return suffix;
}

describe('Salesforce sandbox', () => {
  it('issues tokens as the OAuth endpoint does, and refuses bad credentials', async () => {
    const token = async (form: Record<string, string>) => {
      const response = await fetch(`${sandbox.url}/services/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
      return { status: response.status, body: await response.json() };
    };
    const ok = await token({
      grant_type: 'client_credentials',
      client_id: SANDBOX_DEFAULTS.clientId,
      client_secret: SANDBOX_DEFAULTS.clientSecret,
    });
    expect(ok).toMatchObject({
      status: 200,
      body: {
        access_token: expect.any(String),
        instance_url: sandbox.url,
        id: expect.stringMatching(/\/id\/00D\w{15}\/005\w{15}$/),
        token_type: 'Bearer',
        issued_at: expect.any(String),
        signature: expect.any(String),
      },
    });
    expect((await query('SELECT Id FROM Lead')).status).toBe(200);
    expect(
      await token({
        grant_type: 'client_credentials',
        client_id: SANDBOX_DEFAULTS.clientId,
        client_secret: 'wrong',
      }),
    ).toEqual({
      status: 400,
      body: { error: 'invalid_client', error_description: 'invalid client credentials' },
    });
    expect(await token({ grant_type: 'password', username: 'u', password: 'p' })).toMatchObject({
      status: 400,
      body: { error: 'unsupported_grant_type' },
    });
  });

  it('refuses a missing or expired session with 401 INVALID_SESSION_ID', async () => {
    expect(await call('GET', `${v}/query?q=SELECT+Id+FROM+Lead`, undefined, 'nope')).toMatchObject({
      status: 401,
      body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
    });
  });

  it("creates records with Salesforce's ids and reports save errors field by field", async () => {
    const created = await call('POST', `${v}/sobjects/Lead`, {
      LastName: 'Reyes',
      Company: 'Acme',
      Email: 'd@acme.example',
    });
    expect(created).toMatchObject({ status: 201, body: { success: true, errors: [] } });
    const id = created.body.id as string;
    expect(id).toMatch(/^00Q[a-zA-Z0-9]{15}$/);
    expect(id.slice(15)).toBe(checksum(id.slice(0, 15)));
    expect(created.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/15000$/);

    expect(await call('POST', `${v}/sobjects/Lead`, { LastName: 'Reyes', Email: 'not an email' })).toEqual({
      status: 400,
      headers: expect.anything(),
      body: [
        {
          errorCode: 'REQUIRED_FIELD_MISSING',
          message: 'Required fields are missing: [Company]',
          fields: ['Company'],
        },
        {
          errorCode: 'INVALID_EMAIL_ADDRESS',
          message: 'Email: invalid email address: not an email',
          fields: ['Email'],
        },
      ],
    });
    expect(
      await call('POST', `${v}/sobjects/Lead`, { LastName: 'R', Company: 'A', Nope__c: 1 }),
    ).toMatchObject({
      status: 400,
      body: [{ errorCode: 'INVALID_FIELD', message: "No such column 'Nope__c' on sobject of type Lead" }],
    });
    expect(await call('PATCH', `${v}/sobjects/Lead/${id}`, { IsConverted: true })).toMatchObject({
      status: 400,
      body: [{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['IsConverted'] }],
    });
    expect((await call('PATCH', `${v}/sobjects/Lead/${id}`, { Title: 'COO' })).status).toBe(204);
  });

  it('answers SOQL with its rules: escapes, no AND/OR mixing, no filtering on long text areas', async () => {
    sandbox.seed('Lead', { LastName: 'Quote', Company: 'X', Email: "o'hara_1@acme.example" });
    const found = await query("SELECT Id, Email FROM Lead WHERE Email = 'O\\'HARA_1@acme.example'");
    expect(found.body).toMatchObject({
      totalSize: 1,
      done: true,
      records: [
        {
          attributes: {
            type: 'Lead',
            url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Lead\/00Q/),
          },
          Email: "o'hara_1@acme.example",
        },
      ],
    });
    expect((await query("SELECT Id FROM Lead WHERE Email LIKE 'o\\'hara\\_%'")).body.totalSize).toBe(1);
    expect((await query("SELECT Id FROM Lead WHERE Email LIKE 'o\\'hara\\_2%'")).body.totalSize).toBe(0);
    expect(
      await query("SELECT Id FROM Lead WHERE LastName = 'a' AND Company = 'b' OR Email = 'c'"),
    ).toMatchObject({
      status: 400,
      body: [{ errorCode: 'MALFORMED_QUERY' }],
    });
    expect(await query("SELECT Id FROM Task WHERE Description LIKE '%x%'")).toMatchObject({
      status: 400,
      body: [
        { errorCode: 'INVALID_FIELD', message: "field 'Description' can not be filtered in a query call" },
      ],
    });
    expect(await query('SELECT Id, Nope FROM Lead')).toMatchObject({
      status: 400,
      body: [{ errorCode: 'INVALID_FIELD' }],
    });
    const long = await call(
      'GET',
      `${v}/query?q=${encodeURIComponent(`SELECT Id FROM Lead WHERE Email IN (${"'x',".repeat(4000)}'y')`)}`,
    );
    // Salesforce: URI and headers over 16,384 bytes are answered 431.
    expect(long.status).toBe(431);
  });

  it('upserts by external ID: 201 created, 200 updated (204 before v46), 300 for several matches', async () => {
    const first = await call('PATCH', `${v}/sobjects/Lead/Chat_Id__c/abc%40x`, {
      LastName: 'U',
      Company: 'C',
    });
    expect(first).toMatchObject({ status: 201, body: { success: true, created: true, errors: [] } });
    expect(sandbox.record(first.body.id)).toMatchObject({ Chat_Id__c: 'abc@x' });
    expect(await call('PATCH', `${v}/sobjects/Lead/Chat_Id__c/abc%40x`, { Title: 'T' })).toMatchObject({
      status: 200,
      body: { id: first.body.id, created: false },
    });
    expect(
      (await call('PATCH', '/services/data/v45.0/sobjects/Lead/Chat_Id__c/abc%40x', { Title: 'T' })).status,
    ).toBe(204);
    const twin = sandbox.seed('Lead', { LastName: 'Twin', Company: 'C', Chat_Id__c: 'abc@x' });
    expect(await call('PATCH', `${v}/sobjects/Lead/Chat_Id__c/abc%40x`, { Title: 'T' })).toMatchObject({
      status: 300,
      body: [`${v}/sobjects/Lead/${first.body.id}`, `${v}/sobjects/Lead/${twin}`],
    });
    expect(await call('PATCH', `${v}/sobjects/Lead/Email/abc%40x`, { Title: 'T' })).toMatchObject({
      status: 404,
      body: [{ errorCode: 'NOT_FOUND' }],
    });
  });

  it('sObject Collections: up to 200 records, per-record statusCode errors, allOrNone rolls back', async () => {
    const records = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ attributes: { type: 'Contact' }, LastName: `C${i}` }));
    expect(await call('POST', `${v}/composite/sobjects`, { records: records(201) })).toMatchObject({
      status: 400,
      body: [{ errorCode: 'EXCEEDED_ID_LIMIT' }],
    });
    const before = sandbox.contacts.length;
    const mixed = [...records(2), { attributes: { type: 'Contact' }, FirstName: 'NoLast' }];
    expect(await call('POST', `${v}/composite/sobjects`, { allOrNone: false, records: mixed })).toMatchObject(
      {
        status: 200,
        body: [
          { success: true, errors: [] },
          { success: true, errors: [] },
          {
            success: false,
            errors: [
              {
                statusCode: 'REQUIRED_FIELD_MISSING',
                message: 'Required fields are missing: [LastName]',
                fields: ['LastName'],
              },
            ],
          },
        ],
      },
    );
    expect(sandbox.contacts.length).toBe(before + 2);
    const rolledBack = await call('POST', `${v}/composite/sobjects`, { allOrNone: true, records: mixed });
    expect(rolledBack.body[0]).toMatchObject({
      success: false,
      errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }],
    });
    expect(sandbox.contacts.length).toBe(before + 2);
  });

  it('converted Leads: refuses updates, keeps ConvertedContactId, moves Tasks to the Contact', async () => {
    const leadId = sandbox.seed('Lead', { LastName: 'Conv', Company: 'Acme', Email: 'conv@acme.example' });
    const task = await call('POST', `${v}/sobjects/Task`, {
      Subject: 'Call',
      WhoId: leadId,
      Status: 'Completed',
    });
    expect(task.status).toBe(201);
    expect(await call('POST', `${v}/sobjects/Task`, { Subject: 'x', Status: 'Done' })).toMatchObject({
      status: 400,
      body: [{ errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', fields: ['Status'] }],
    });
    const { contactId } = sandbox.convertLead(leadId);
    expect(sandbox.record(leadId)).toMatchObject({ IsConverted: true, ConvertedContactId: contactId });
    expect(sandbox.record(task.body.id)).toMatchObject({ WhoId: contactId, IsClosed: true });
    expect(await call('PATCH', `${v}/sobjects/Lead/${leadId}`, { Title: 'x' })).toMatchObject({
      status: 400,
      body: [{ errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD', message: 'cannot reference converted lead' }],
    });
  });

  it('duplicate rules answer DUPLICATES_DETECTED with the matching records (spelled duplicateResut)', async () => {
    const existing = sandbox.seed('Lead', { LastName: 'Dup', Company: 'Dup Inc' });
    sandbox.setDuplicateRule('Lead', { name: 'Dup_Rule', fields: ['LastName', 'Company'] });
    const refused = await call('POST', `${v}/sobjects/Lead`, { LastName: 'dup', Company: 'DUP INC' });
    sandbox.setDuplicateRule('Lead', undefined);
    expect(refused).toMatchObject({
      status: 400,
      body: [
        {
          errorCode: 'DUPLICATES_DETECTED',
          message: 'Use one of these records?',
          duplicateResut: {
            allowSave: false,
            duplicateRule: 'Dup_Rule',
            matchResults: [{ entityType: 'Lead', matchRecords: [{ record: { Id: existing } }] }],
          },
        },
      ],
    });
  });

  it('counts requests against the daily budget: 403 REQUEST_LIMIT_EXCEEDED when spent', async () => {
    const limit = sandbox.dailyLimit;
    sandbox.dailyLimit = sandbox.apiUsage;
    const refused = await query('SELECT Id FROM Lead');
    sandbox.dailyLimit = limit;
    expect(refused).toMatchObject({
      status: 403,
      body: [{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }],
    });
  });

  it('shows its records over HTTP for the demo', async () => {
    const state = (await (await fetch(`${sandbox.url}/_sandbox/state`)).json()) as { leads: unknown[] };
    expect(state).toMatchObject({
      leads: expect.any(Array),
      contacts: expect.any(Array),
      tasks: expect.any(Array),
    });
    expect(state.leads.length).toBe(sandbox.leads.length);
  });
});

describe('Salesforce sandbox /composite (REST API Developer Guide, "Send Multiple Requests Using Composite")', () => {
  const composite = (allOrNone: boolean, compositeRequest: unknown[]) =>
    call('POST', `${v}/composite`, { allOrNone, compositeRequest });
  const halted = (message: string) => ({
    body: [{ errorCode: 'PROCESSING_HALTED', message }],
    httpHeaders: {},
    httpStatusCode: 400,
  });
  const ROLLED_BACK =
    'The transaction was rolled back since another operation in the same transaction failed.';

  it('runs subrequests in ONE API call, a later one using an earlier answer through @{referenceId.field}', async () => {
    const usage = sandbox.apiUsage;
    const answer = await composite(true, [
      {
        method: 'POST',
        url: `${v}/sobjects/Lead`,
        referenceId: 'newLead',
        body: { LastName: 'Comp', Company: 'Acme', Email: 'comp@acme.example' },
      },
      {
        method: 'POST',
        url: `${v}/sobjects/Task`,
        referenceId: 'newTask',
        body: { Subject: 'Chat', Status: 'Completed', WhoId: '@{newLead.id}' },
      },
      {
        method: 'GET',
        // The reference stays as written in the URL; Salesforce puts the value in before running it.
        url: `${v}/query?q=${encodeURIComponent('SELECT Id, WhoId FROM Task WHERE Id = ')}'@{newTask.id}'`,
        referenceId: 'check',
      },
    ]);
    expect(sandbox.apiUsage).toBe(usage + 1);
    expect(answer.headers.get('sforce-limit-info')).toBe(`api-usage=${usage + 1}/${sandbox.dailyLimit}`);
    const [lead, task, check] = answer.body.compositeResponse;
    expect(answer.status).toBe(200);
    expect(lead).toEqual({
      body: { id: expect.stringMatching(/^00Q\w{15}$/), success: true, errors: [] },
      httpHeaders: { Location: `${v}/sobjects/Lead/${lead.body.id}` },
      httpStatusCode: 201,
      referenceId: 'newLead',
    });
    expect(task).toMatchObject({ httpStatusCode: 201, referenceId: 'newTask' });
    expect(sandbox.record(task.body.id)).toMatchObject({ WhoId: lead.body.id });
    expect(check).toMatchObject({
      httpStatusCode: 200,
      referenceId: 'check',
      body: { totalSize: 1, done: true, records: [{ Id: task.body.id, WhoId: lead.body.id }] },
    });
  });

  it('allOrNone true: the failing subrequest keeps its error, every other one is rolled back with PROCESSING_HALTED', async () => {
    const leads = sandbox.leads.length;
    const answer = await composite(true, [
      {
        method: 'POST',
        url: `${v}/sobjects/Lead`,
        referenceId: 'lead',
        body: { LastName: 'Undone', Company: 'Acme' },
      },
      {
        method: 'POST',
        url: `${v}/sobjects/Task`,
        referenceId: 'task',
        body: { Subject: 'Chat', Status: 'Finished', WhoId: '@{lead.id}' },
      },
      {
        method: 'GET',
        url: `${v}/query?q=${encodeURIComponent('SELECT Id FROM Lead')}`,
        referenceId: 'later',
      },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body.compositeResponse).toEqual([
      { ...halted(ROLLED_BACK), referenceId: 'lead' },
      {
        body: [
          {
            errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
            message: 'Status: bad value for restricted picklist field: Finished',
            fields: ['Status'],
          },
        ],
        httpHeaders: {},
        httpStatusCode: 400,
        referenceId: 'task',
      },
      { ...halted(ROLLED_BACK), referenceId: 'later' },
    ]);
    expect(sandbox.leads).toHaveLength(leads);
  });

  it('allOrNone false: a failure stays with its subrequest; only those that reference it are not run', async () => {
    const contacts = sandbox.contacts.length;
    const answer = await composite(false, [
      { method: 'POST', url: `${v}/sobjects/Lead`, referenceId: 'badLead', body: { Company: 'Acme' } },
      {
        method: 'POST',
        url: `${v}/sobjects/Task`,
        referenceId: 'dependent',
        body: { Subject: 'Chat', Status: 'Completed', WhoId: '@{badLead.id}' },
      },
      {
        method: 'POST',
        url: `${v}/sobjects/Contact`,
        referenceId: 'independent',
        body: { LastName: 'Kept' },
      },
    ]);
    expect(answer.body.compositeResponse).toEqual([
      {
        body: [
          {
            errorCode: 'REQUIRED_FIELD_MISSING',
            message: 'Required fields are missing: [LastName]',
            fields: ['LastName'],
          },
        ],
        httpHeaders: {},
        httpStatusCode: 400,
        referenceId: 'badLead',
      },
      {
        ...halted('Invalid reference specified. No value for badLead.id found in badLead.'),
        referenceId: 'dependent',
      },
      expect.objectContaining({ httpStatusCode: 201, referenceId: 'independent' }),
    ]);
    expect(sandbox.contacts).toHaveLength(contacts + 1);
  });

  it('an update answers 204 with a null body; a collection subrequest is all-or-none under an all-or-none composite', async () => {
    const leadId = sandbox.seed('Lead', { LastName: 'Patch', Company: 'Acme' });
    const answer = await composite(true, [
      { method: 'PATCH', url: `${v}/sobjects/Lead/${leadId}`, referenceId: 'update', body: { Title: 'CEO' } },
      {
        method: 'POST',
        url: `${v}/composite/sobjects`,
        referenceId: 'many',
        body: {
          allOrNone: false,
          records: [
            { attributes: { type: 'Contact' }, LastName: 'Fine' },
            { attributes: { type: 'Contact' }, FirstName: 'NoLast' },
          ],
        },
      },
    ]);
    expect(answer.body.compositeResponse[0]).toEqual({ ...halted(ROLLED_BACK), referenceId: 'update' });
    expect(answer.body.compositeResponse[1]).toMatchObject({ httpStatusCode: 200, referenceId: 'many' });
    expect(sandbox.record(leadId)).not.toHaveProperty('Title', 'CEO');
    const ok = await composite(true, [
      { method: 'PATCH', url: `${v}/sobjects/Lead/${leadId}`, referenceId: 'update', body: { Title: 'CEO' } },
    ]);
    expect(ok.body.compositeResponse).toEqual([
      { body: null, httpHeaders: {}, httpStatusCode: 204, referenceId: 'update' },
    ]);
    expect(sandbox.record(leadId)).toMatchObject({ Title: 'CEO' });
  });

  it('over 25 subrequests or 5 queries: one LIMIT_EXCEEDED answer and nothing runs; a malformed request is a 400', async () => {
    const leads = sandbox.leads.length;
    const creates = Array.from({ length: 26 }, (_, i) => ({
      method: 'POST',
      url: `${v}/sobjects/Lead`,
      referenceId: `lead${i}`,
      body: { LastName: `L${i}`, Company: 'Acme' },
    }));
    // The answer Salesforce gave in production (guardian/support-service-lambdas#766).
    expect((await composite(false, creates)).body).toEqual({
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
    });
    const queries = Array.from({ length: 6 }, (_, i) => ({
      method: 'GET',
      url: `${v}/query?q=${encodeURIComponent('SELECT Id FROM Lead')}`,
      referenceId: `q${i}`,
    }));
    expect((await composite(false, queries)).body.compositeResponse).toMatchObject([
      { body: [{ errorCode: 'LIMIT_EXCEEDED' }], httpStatusCode: 400, referenceId: null },
    ]);
    expect(sandbox.leads).toHaveLength(leads);
    expect(await composite(false, [{ method: 'GET', url: `${v}/query?q=x` }])).toMatchObject({
      status: 400,
      body: [
        {
          errorCode: 'JSON_PARSER_ERROR',
          message: 'Invalid composite request: compositeRequest[0] has no referenceId',
        },
      ],
    });
  });

  it('a fault that names a subrequest fails the composite call carrying it, or with subrequest: true, only that subrequest', async () => {
    const own = await SalesforceSandbox.start();
    try {
      const conn = new jsforce.Connection({
        instanceUrl: own.url,
        accessToken: SANDBOX_DEFAULTS.accessToken,
        version: '62.0',
      });
      const body = {
        allOrNone: true,
        compositeRequest: [
          {
            method: 'POST',
            url: `${v}/sobjects/Lead`,
            referenceId: 'lead',
            body: { LastName: 'F', Company: 'A' },
          },
          {
            method: 'POST',
            url: `${v}/sobjects/Task`,
            referenceId: 'task',
            body: { Subject: 'Chat', Status: 'Completed', WhoId: '@{lead.id}' },
          },
        ],
      };
      own.failNext(1, { match: { method: 'POST', path: '/sobjects/Task' }, status: 503 });
      await expect(conn.requestPost(`${v}/composite`, body)).rejects.toMatchObject({
        errorCode: 'SERVER_UNAVAILABLE',
      });
      own.failNext(1, {
        subrequest: true,
        match: { method: 'POST', path: '/sobjects/Task' },
        errorCode: 'UNABLE_TO_LOCK_ROW',
        message: 'unable to obtain exclusive access to this record',
      });
      const answer = await conn.requestPost<{
        compositeResponse: { httpStatusCode: number; body: unknown }[];
      }>(`${v}/composite`, body);
      expect(
        answer.compositeResponse.map((r) => [
          r.httpStatusCode,
          (r.body as { errorCode: string }[])[0]!.errorCode,
        ]),
      ).toEqual([
        [400, 'PROCESSING_HALTED'],
        [400, 'UNABLE_TO_LOCK_ROW'],
      ]);
      expect(own.leads).toEqual([]);
      await conn.requestPost(`${v}/composite`, body);
      expect(own.tasks).toEqual([expect.objectContaining({ WhoId: own.leads[0]!.Id })]);
      expect(
        own
          .operations()
          .map((op) => `${op.method} ${op.referenceId ?? op.path.split('/').pop()} ${op.status}`),
      ).toEqual(['POST composite 503', 'POST lead 400', 'POST task 400', 'POST lead 201', 'POST task 201']);
      // Two composite calls reached the API, each counted once (the 503 was answered before it).
      expect(own.apiUsage).toBe(2);
      expect(own.injected).toEqual(
        new Map([
          ['503', 1],
          ['subrequest 400 UNABLE_TO_LOCK_ROW', 1],
        ]),
      );
    } finally {
      await own.close();
    }
  });
});

describe('Salesforce sandbox failRandomly (driven by jsforce, as the connector is)', () => {
  async function start() {
    const own = await SalesforceSandbox.start();
    const conn = new jsforce.Connection({
      instanceUrl: own.url,
      accessToken: SANDBOX_DEFAULTS.accessToken,
      version: '62.0',
    });
    return { own, conn };
  }
  const lead = (n: number) => ({ LastName: `Reyes ${n}`, Company: 'Acme', Email: `dana${n}@acme.example` });
  /** What jsforce threw (creates are POSTs, which jsforce never retries). */
  const failure = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected the call to fail');
      },
      (error: unknown) => error as { errorCode?: string; code?: string; name?: string },
    );

  it("with rate 1 fails the next call with one of the faults, in Salesforce's shapes; with rate 0 none", async () => {
    const { own, conn } = await start();
    try {
      own.failRandomly(1, [{ errorCode: 'SERVER_UNAVAILABLE' }, { errorCode: 'UNABLE_TO_LOCK_ROW' }]);
      for (let i = 0; i < 6; i++) {
        const error = await failure(conn.sobject('Lead').create(lead(i)));
        expect(['SERVER_UNAVAILABLE', 'UNABLE_TO_LOCK_ROW']).toContain(error.errorCode);
      }
      expect(own.leads).toHaveLength(0);
      expect(own.apiRequests().every((r) => r.status === 400 || r.status === 503)).toBe(true);

      // The token endpoint gets no fault that does not name it.
      const oauth2 = new jsforce.OAuth2({
        loginUrl: own.url,
        clientId: SANDBOX_DEFAULTS.clientId,
        clientSecret: SANDBOX_DEFAULTS.clientSecret,
      });
      await expect(oauth2.requestToken({ grant_type: 'client_credentials' })).resolves.toMatchObject({
        access_token: expect.any(String),
      });

      own.failRandomly(0, [{ errorCode: 'SERVER_UNAVAILABLE' }]);
      for (let i = 0; i < 5; i++) await conn.sobject('Lead').create(lead(i));
      expect(own.leads).toHaveLength(5);
      expect((await conn.query('SELECT Id FROM Lead')).totalSize).toBe(5);
      const counted = [...own.injected.values()].reduce((sum, n) => sum + n, 0);
      expect(counted).toBe(6);
      expect(
        [...own.injected.keys()].every((kind) =>
          ['503 SERVER_UNAVAILABLE', '400 UNABLE_TO_LOCK_ROW'].includes(kind),
        ),
      ).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('performs a write whose answer is lost, and fits faults to requests by match', async () => {
    const { own, conn } = await start();
    try {
      own.failRandomly(1, [
        { afterEffect: true, reset: true, match: { method: 'POST', path: '/sobjects/Task' } },
      ]);
      // A Lead does not fit the fault.
      const created = await conn.sobject('Lead').create(lead(1));
      const error = await failure(
        conn.sobject('Task').create({ Subject: 'kept', WhoId: created.id!, Status: 'Completed' }),
      );
      expect(transportFailure(error)).toMatchObject({
        kind: 'network',
        reason: expect.stringMatching(/^connection reset/),
      });
      expect(own.tasks.map((task) => task.Subject)).toEqual(['kept']);
      expect(own.injected).toEqual(new Map([['performed, then connection dropped', 1]]));
    } finally {
      await own.close();
    }
  });
});
