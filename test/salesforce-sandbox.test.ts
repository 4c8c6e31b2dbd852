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
