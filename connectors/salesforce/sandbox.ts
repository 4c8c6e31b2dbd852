import { createHmac, createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { conditionFields, evaluate, parseSoql, SoqlError } from './sandbox-soql.ts';

/*
 * A local stand-in for a Salesforce org's REST API, answering the paths
 * jsforce calls with Salesforce's shapes: OAuth token endpoint, SOQL query,
 * sObject create/update/upsert-by-external-ID, sObject Collections. It keeps
 * Leads, Contacts, Accounts and Tasks in memory, enforces required fields,
 * field lengths, email format, restricted picklists, read-only fields,
 * converted Leads, switchable duplicate rules, admins' validation rules and
 * a daily API-request budget, and can be told to fail (before or after
 * performing a request: a lost answer). Used by the tests and `npm run demo`;
 * `GET /_sandbox/state` shows the records over HTTP.
 */

type FieldType =
  | 'id'
  | 'string'
  | 'email'
  | 'phone'
  | 'url'
  | 'textarea'
  | 'picklist'
  | 'boolean'
  | 'reference'
  | 'date'
  | 'datetime';

interface FieldDef {
  type: FieldType;
  length?: number;
  required?: boolean;
  readonly?: boolean;
  values?: string[];
  restricted?: boolean;
  externalId?: boolean;
  /** For references: the objects the id may point at. */
  to?: string[];
}

export interface SandboxRecord {
  Id: string;
  [field: string]: unknown;
}

/** What the sandbox answers instead of the real thing. */
export interface SandboxFault {
  /** HTTP status (default 503, or 400/403/401 for well-known error codes). */
  status?: number;
  /** Answer with Salesforce's error array `[{ message, errorCode }]`. */
  errorCode?: string;
  message?: string;
  /** A raw body instead (e.g. an HTML gateway page). */
  body?: string;
  contentType?: string;
  retryAfter?: string;
  /** Wait before answering (or, with afterEffect, after performing the request). */
  delayMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
  /** Perform the request first, then answer with the fault: the write happened, the answer is lost. */
  afterEffect?: boolean;
  /** Which request gets it; default: the next REST API (`/services/data/…`) request. */
  match?: { method?: string; path?: string | RegExp };
}

export interface SandboxRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The SOQL of a query request. */
  soql?: string;
  body?: unknown;
  /** What was answered (0: connection dropped). */
  status: number;
  at: number;
}

export interface DuplicateRule {
  name?: string;
  /** Records are duplicates when all these fields are set and equal (case-insensitive). */
  fields: string[];
  /** Objects searched for duplicates (default: the object itself). */
  against?: string[];
}

export interface ValidationRule {
  name?: string;
  /** The message the admin wrote; Salesforce returns it as it is. */
  message: string;
  /** The field the error is shown at (none: at the top of the page). */
  field?: string;
  /** True when the record is invalid. */
  when: (record: Readonly<Record<string, unknown>>) => boolean;
}

export interface SalesforceSandboxOptions {
  port?: number;
  /** Connected app credentials (client credentials, refresh token and JWT bearer flows). */
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** Access tokens accepted from the start (as if issued earlier). */
  accessTokens?: string[];
  /** Public key of the connected app's certificate, for the JWT bearer flow. */
  jwtPublicKey?: string | KeyObject;
  /** The user a JWT must name in `sub` (any when unset). */
  jwtUsername?: string;
  /** API requests allowed per 24 hours (Developer Edition: 15,000). */
  dailyLimit?: number;
  /** External ID fields by object, e.g. `{ Lead: ['Chat_Id__c'], Task: ['LeadRelay_Event_Id__c'] }`. */
  externalIdFields?: Record<string, string[]>;
  /** Other custom text fields by object. */
  customFields?: Record<string, string[]>;
  /** Records per query page (Salesforce: 2000). */
  queryPageSize?: number;
}

export const SANDBOX_DEFAULTS = {
  clientId: 'sandbox-consumer-key',
  clientSecret: 'sandbox-consumer-secret',
  refreshToken: 'sandbox-refresh-token',
  accessToken: 'sandbox-access-token',
};

const ORG_ID = '00D000000000001AAA';
/** Salesforce refuses requests whose URI and headers pass 16,384 bytes (431; Node's own header limit answers the same). */
const URI_LIMIT = 16_384;
const USER_ID = '005000000000001AAA';
const TASK_STATUSES = ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'];
const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Closed - Converted',
  'Closed - Not Converted',
];
const PREFIXES: Record<string, string> = {
  Lead: '00Q',
  Contact: '003',
  Account: '001',
  Task: '00T',
  User: '005',
};

const timestamps: Record<string, FieldDef> = {
  CreatedDate: { type: 'datetime', readonly: true },
  LastModifiedDate: { type: 'datetime', readonly: true },
  OwnerId: { type: 'reference', to: ['User'] },
};

function standardSchema(): Record<string, Record<string, FieldDef>> {
  return {
    Lead: {
      Id: { type: 'id', readonly: true },
      FirstName: { type: 'string', length: 40 },
      LastName: { type: 'string', length: 80, required: true },
      Name: { type: 'string', readonly: true },
      Company: { type: 'string', length: 255, required: true },
      Email: { type: 'email', length: 80 },
      Phone: { type: 'phone', length: 40 },
      MobilePhone: { type: 'phone', length: 40 },
      Title: { type: 'string', length: 128 },
      Website: { type: 'url', length: 255 },
      LeadSource: { type: 'picklist', length: 255 },
      Status: { type: 'picklist', values: LEAD_STATUSES, restricted: true },
      Industry: { type: 'picklist', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      IsConverted: { type: 'boolean', readonly: true },
      ConvertedContactId: { type: 'reference', readonly: true, to: ['Contact'] },
      ConvertedAccountId: { type: 'reference', readonly: true, to: ['Account'] },
      ConvertedDate: { type: 'date', readonly: true },
      ...timestamps,
    },
    Contact: {
      Id: { type: 'id', readonly: true },
      FirstName: { type: 'string', length: 40 },
      LastName: { type: 'string', length: 80, required: true },
      Name: { type: 'string', readonly: true },
      Email: { type: 'email', length: 80 },
      Phone: { type: 'phone', length: 40 },
      MobilePhone: { type: 'phone', length: 40 },
      Title: { type: 'string', length: 128 },
      LeadSource: { type: 'picklist', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      AccountId: { type: 'reference', to: ['Account'] },
      ...timestamps,
    },
    Account: {
      Id: { type: 'id', readonly: true },
      Name: { type: 'string', length: 255, required: true },
      Website: { type: 'url', length: 255 },
      ...timestamps,
    },
    Task: {
      Id: { type: 'id', readonly: true },
      Subject: { type: 'string', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      Status: { type: 'picklist', values: TASK_STATUSES, restricted: true },
      Priority: { type: 'picklist', values: ['High', 'Normal', 'Low'], restricted: true },
      WhoId: { type: 'reference', to: ['Lead', 'Contact'] },
      WhatId: { type: 'reference', to: ['Account'] },
      ActivityDate: { type: 'date' },
      Type: { type: 'picklist', length: 255 },
      TaskSubtype: { type: 'picklist', values: ['Task', 'Email', 'Call'], restricted: true },
      IsClosed: { type: 'boolean', readonly: true },
      ...timestamps,
    },
  };
}

const DEFAULTS_ON_CREATE: Record<string, Record<string, unknown>> = {
  Lead: {
    Status: 'Open - Not Contacted',
    IsConverted: false,
    ConvertedContactId: null,
    ConvertedAccountId: null,
  },
  Task: { Status: 'Not Started', Priority: 'Normal', TaskSubtype: 'Task' },
};

interface SfError {
  message: string;
  errorCode: string;
  fields?: string[];
  duplicateResut?: unknown;
}

/** A whole request refused (a 4xx with Salesforce's error array). */
class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: SfError[],
  ) {
    super(errors[0]?.message);
  }
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type SaveResult = { ok: true; id: string; created: boolean } | { ok: false; errors: SfError[] };

export class SalesforceSandbox {
  readonly requests: SandboxRequest[] = [];
  /** Grant types of the token requests received, in order. */
  readonly tokenRequests: { grantType: string; ok: boolean; at: number }[] = [];
  /** API requests counted against the daily budget. */
  apiUsage = 0;
  dailyLimit: number;
  /** The most requests that were being handled at the same moment. */
  peakConcurrency = 0;

  private readonly schema = standardSchema();
  private readonly store = new Map<string, Map<string, SandboxRecord>>();
  private readonly tokens = new Set<string>();
  private readonly faults: SandboxFault[] = [];
  private readonly duplicateRules = new Map<string, DuplicateRule>();
  private readonly validationRules = new Map<string, ValidationRule[]>();
  private readonly cursors = new Map<string, { records: unknown[]; type: string }>();
  private readonly sockets = new Set<Socket>();
  private readonly options: Required<
    Pick<SalesforceSandboxOptions, 'clientId' | 'clientSecret' | 'refreshToken' | 'queryPageSize'>
  > &
    SalesforceSandboxOptions;
  private counter = 0;
  private open = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: SalesforceSandboxOptions,
  ) {
    this.options = {
      ...options,
      clientId: options.clientId ?? SANDBOX_DEFAULTS.clientId,
      clientSecret: options.clientSecret ?? SANDBOX_DEFAULTS.clientSecret,
      refreshToken: options.refreshToken ?? SANDBOX_DEFAULTS.refreshToken,
      queryPageSize: options.queryPageSize ?? 2000,
    };
    this.dailyLimit = options.dailyLimit ?? 15_000;
    for (const token of options.accessTokens ?? [SANDBOX_DEFAULTS.accessToken]) this.tokens.add(token);
    for (const object of Object.keys(this.schema)) this.store.set(object, new Map());
    for (const [object, fields] of Object.entries(options.customFields ?? {}))
      for (const field of fields) this.schemaOf(object)[field] = { type: 'string', length: 255 };
    for (const [object, fields] of Object.entries(options.externalIdFields ?? {}))
      for (const field of fields)
        this.schemaOf(object)[field] = { type: 'string', length: 255, externalId: true };
  }

  static async start(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
    let sandbox: SalesforceSandbox | undefined;
    const server = createServer((req, res) => void sandbox!.handle(req, res));
    server.on('connection', (socket) => {
      sandbox?.sockets.add(socket);
      socket.on('close', () => sandbox?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    sandbox = new SalesforceSandbox(server, `http://127.0.0.1:${port}`, options);
    return sandbox;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /* ---------------- state for tests and the demo ---------------- */

  get leads(): SandboxRecord[] {
    return this.records('Lead');
  }

  get contacts(): SandboxRecord[] {
    return this.records('Contact');
  }

  get accounts(): SandboxRecord[] {
    return this.records('Account');
  }

  get tasks(): SandboxRecord[] {
    return this.records('Task');
  }

  /** Copies of the records of one object, oldest first. */
  records(object: string): SandboxRecord[] {
    return [...(this.store.get(object)?.values() ?? [])].map((record) => structuredClone(record));
  }

  record(id: string): SandboxRecord | undefined {
    const found = this.find(id);
    return found ? structuredClone(found.record) : undefined;
  }

  /** REST API requests received (token requests excluded), optionally only those whose path contains `part`. */
  apiRequests(part = ''): SandboxRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/services/data/') && r.path.includes(part));
  }

  /** Adds a record as an admin's import would: no validation, no rules. Returns its id. */
  seed(object: string, fields: Record<string, unknown>): string {
    const id = this.newId(object);
    const now = new Date().toISOString();
    this.table(object).set(id, {
      ...(DEFAULTS_ON_CREATE[object] ?? {}),
      OwnerId: USER_ID,
      ...fields,
      Id: id,
      CreatedDate: now,
      LastModifiedDate: now,
    });
    this.computeFields(object, this.table(object).get(id)!);
    return id;
  }

  /**
   * Converts a Lead as a sales rep would: a new Account (from Company) and
   * Contact, the Lead marked IsConverted with ConvertedContactId, its Tasks
   * moved to the Contact.
   */
  convertLead(leadId: string): { leadId: string; contactId: string; accountId: string } {
    const lead = this.table('Lead').get(leadId);
    if (!lead) throw new Error(`no Lead ${leadId}`);
    if (lead.IsConverted) throw new Error(`Lead ${leadId} is already converted`);
    const accountId = this.seed('Account', { Name: lead.Company ?? lead.LastName });
    const contactId = this.seed('Contact', {
      FirstName: lead.FirstName,
      LastName: lead.LastName,
      Email: lead.Email,
      Phone: lead.Phone,
      Title: lead.Title,
      LeadSource: lead.LeadSource,
      AccountId: accountId,
    });
    Object.assign(lead, {
      IsConverted: true,
      ConvertedContactId: contactId,
      ConvertedAccountId: accountId,
      ConvertedDate: new Date().toISOString().slice(0, 10),
      Status: 'Closed - Converted',
    });
    for (const task of this.table('Task').values()) if (task.WhoId === leadId) task.WhoId = contactId;
    return { leadId, contactId, accountId };
  }

  /** A Lead that was converted: both ids. */
  seedConvertedLead(fields: Record<string, unknown>): {
    leadId: string;
    contactId: string;
    accountId: string;
  } {
    return this.convertLead(this.seed('Lead', fields));
  }

  /** Turns a duplicate rule on for an object (blocking, like "Block" in Setup), or off with undefined. */
  setDuplicateRule(object: string, rule: DuplicateRule | undefined): void {
    if (rule) this.duplicateRules.set(object, rule);
    else this.duplicateRules.delete(object);
  }

  /** Adds an admin's validation rule: saving a record for which `when` is true fails with `message`. */
  addValidationRule(object: string, rule: ValidationRule): void {
    this.validationRules.set(object, [...(this.validationRules.get(object) ?? []), rule]);
  }

  /** An admin makes a field required (adding it as a text field if the object has no such field). */
  requireField(object: string, field: string): void {
    const schema = this.schemaOf(object);
    schema[field] = { ...(schema[field] ?? { type: 'string', length: 255 }), required: true };
  }

  /** Every access token issued or configured stops working (sessions expired). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Accept this access token from now on. */
  addAccessToken(token: string): void {
    this.tokens.add(token);
  }

  /** The next `count` matching requests get `fault`. */
  failNext(count: number, fault: SandboxFault = {}): void {
    for (let i = 0; i < count; i++) this.faults.push(fault);
  }

  /* ---------------- HTTP ---------------- */

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.open++;
    this.peakConcurrency = Math.max(this.peakConcurrency, this.open);
    try {
      await this.answer(req, res);
    } catch (error) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json;charset=UTF-8' });
        res.end(JSON.stringify([{ errorCode: 'UNKNOWN_EXCEPTION', message: (error as Error).message }]));
      }
    } finally {
      this.open--;
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const entry: SandboxRequest = { method, path: url.pathname, status: 0, at: Date.now() };
    if (url.pathname.endsWith('/query') && url.searchParams.has('q'))
      entry.soql = url.searchParams.get('q') ?? '';
    if (raw) entry.body = readable(raw, req.headers['content-type']);
    this.requests.push(entry);

    if (method === 'GET' && url.pathname === '/_sandbox/state') {
      this.send(res, entry, { status: 200, body: this.state() });
      return;
    }
    if ((req.url ?? '').length > URI_LIMIT) {
      this.send(res, entry, {
        status: 431,
        body: '<html><body>Request Header Fields Too Large</body></html>',
        headers: { 'content-type': 'text/html' },
      });
      return;
    }
    const fault = this.takeFault(method, url.pathname);
    if (fault && !fault.afterEffect) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined || fault.errorCode || fault.body !== undefined) {
        this.send(res, entry, faultAnswer(fault));
        return;
      }
    }

    let answer: Answer;
    if (url.pathname === '/services/oauth2/token' && method === 'POST') {
      answer = this.token(Object.fromEntries(new URLSearchParams(raw)));
    } else if (url.pathname.startsWith('/services/data/')) {
      answer = this.api(req, url, method, raw);
    } else {
      answer = {
        status: 404,
        body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
      };
    }

    if (fault?.afterEffect) {
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.status !== undefined || fault.errorCode || fault.body !== undefined)
        answer = faultAnswer(fault);
    }
    this.send(res, entry, answer);
  }

  private send(res: ServerResponse, entry: SandboxRequest, answer: Answer): void {
    entry.status = answer.status;
    const headers: Record<string, string> = {
      'sforce-limit-info': `api-usage=${this.apiUsage}/${this.dailyLimit}`,
      ...answer.headers,
    };
    if (answer.status === 204 || answer.body === undefined) {
      res.writeHead(answer.status, headers);
      res.end();
      return;
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    headers['content-type'] ??= 'application/json;charset=UTF-8';
    res.writeHead(answer.status, headers);
    res.end(text);
  }

  private takeFault(method: string, path: string): SandboxFault | undefined {
    const index = this.faults.findIndex((fault) => {
      const match = fault.match ?? {};
      if (match.method && match.method.toUpperCase() !== method) return false;
      if (match.path === undefined) return path.startsWith('/services/data/');
      return typeof match.path === 'string' ? path.includes(match.path) : match.path.test(path);
    });
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  private state() {
    return {
      leads: this.leads,
      contacts: this.contacts,
      accounts: this.accounts,
      tasks: this.tasks,
      apiUsage: this.apiUsage,
      dailyLimit: this.dailyLimit,
      tokenRequests: this.tokenRequests.length,
    };
  }

  /* ---------------- OAuth ---------------- */

  private token(form: Record<string, string>): Answer {
    const grantType = form.grant_type ?? '';
    const refuse = (error: string, description: string): Answer => {
      this.tokenRequests.push({ grantType, ok: false, at: Date.now() });
      return { status: 400, body: { error, error_description: description } };
    };
    const options = this.options;
    if (grantType === 'client_credentials' || grantType === 'refresh_token') {
      if (form.client_id !== options.clientId)
        return refuse('invalid_client_id', 'client identifier invalid');
      if (
        (grantType === 'client_credentials' || form.client_secret) &&
        form.client_secret !== options.clientSecret
      )
        return refuse('invalid_client', 'invalid client credentials');
      if (grantType === 'refresh_token' && form.refresh_token !== options.refreshToken)
        return refuse('invalid_grant', 'expired access/refresh token');
    } else if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const problem = this.jwtProblem(form.assertion ?? '');
      if (problem) return refuse('invalid_grant', problem);
    } else {
      return refuse('unsupported_grant_type', 'grant type not supported');
    }
    this.tokenRequests.push({ grantType, ok: true, at: Date.now() });
    const accessToken = `${ORG_ID.slice(0, 15)}!${randomBytes(24).toString('base64url')}`;
    this.tokens.add(accessToken);
    const issuedAt = String(Date.now());
    return {
      status: 200,
      body: {
        access_token: accessToken,
        signature: createHmac('sha256', options.clientSecret)
          .update(`${this.url}${issuedAt}`)
          .digest('base64'),
        scope: 'api',
        instance_url: this.url,
        id: `${this.url}/id/${ORG_ID}/${USER_ID}`,
        token_type: 'Bearer',
        issued_at: issuedAt,
      },
    };
  }

  private jwtProblem(assertion: string): string | undefined {
    const [header, claims, signature] = assertion.split('.');
    if (!header || !claims || !signature) return 'invalid assertion';
    const key = this.options.jwtPublicKey;
    if (!key) return 'invalid assertion';
    const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
    const valid = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${claims}`),
      publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return 'invalid assertion';
    let body: { iss?: string; sub?: string; aud?: string; exp?: number };
    try {
      body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
    } catch {
      return 'invalid assertion';
    }
    if (body.iss !== this.options.clientId) return 'invalid client credentials';
    if (!['https://login.salesforce.com', 'https://test.salesforce.com', this.url].includes(body.aud ?? ''))
      return 'audience is invalid';
    if (this.options.jwtUsername && body.sub !== this.options.jwtUsername)
      return "user hasn't approved this consumer";
    if (typeof body.exp !== 'number' || body.exp * 1000 < Date.now()) return 'expired authorization code';
    return undefined;
  }

  /* ---------------- REST API ---------------- */

  private api(req: IncomingMessage, url: URL, method: string, raw: string): Answer {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(auth)?.[1];
    if (!token || !this.tokens.has(token))
      return {
        status: 401,
        body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
      };
    if (this.apiUsage >= this.dailyLimit)
      return {
        status: 403,
        body: [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }],
      };
    this.apiUsage++;

    const versioned = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(url.pathname);
    const version = versioned ? Number(versioned[1]) : 0;
    if (!versioned || version < 31 || version > 66) return notFound();
    const rest = versioned[2] ?? '/';
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return {
          status: 400,
          body: [{ message: 'Unexpected character in the request body', errorCode: 'JSON_PARSER_ERROR' }],
        };
      }
    }
    try {
      return this.route(method, rest, url, body, version);
    } catch (error) {
      if (error instanceof RequestError) return { status: error.status, body: error.errors };
      if (error instanceof SoqlError)
        return { status: 400, body: [{ message: error.message, errorCode: error.errorCode }] };
      throw error;
    }
  }

  private route(method: string, rest: string, url: URL, body: unknown, version: number): Answer {
    const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
    const [head, a, b, c] = parts;
    if (method === 'GET' && head === 'query' && parts.length === 1) {
      return { status: 200, body: this.query(url.searchParams.get('q') ?? '', version) };
    }
    if (method === 'GET' && head === 'query' && a) return { status: 200, body: this.nextPage(a, version) };
    if (method === 'GET' && head === 'limits')
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: this.dailyLimit, Remaining: Math.max(0, this.dailyLimit - this.apiUsage) },
        },
      };
    if (head === 'sobjects' && a) {
      this.requireObject(a);
      if (method === 'POST' && !b) return this.createOne(a, body);
      if (b && !c && this.isIdOf(b, a)) {
        if (method === 'GET') return this.retrieve(a, b, version);
        if (method === 'PATCH') return this.updateOne(a, b, body);
        if (method === 'DELETE') return this.remove(a, b);
      }
      if (b && c !== undefined && method === 'PATCH') return this.upsertOne(a, b, c, body, version);
    }
    if (head === 'composite' && a === 'sobjects') {
      if (version < 42) return notFound();
      if (method === 'POST' && !b) return this.collection('create', body);
      if (method === 'PATCH' && !b) return this.collection('update', body);
      if (method === 'PATCH' && b && c) {
        if (version < 46) return notFound();
        this.requireObject(b);
        return this.collection('upsert', body, b, c);
      }
    }
    return notFound();
  }

  private query(soql: string, version: number) {
    const query = parseSoql(soql);
    const object = this.canonicalObject(query.object);
    if (!object) throw new SoqlError('INVALID_TYPE', `sObject type '${query.object}' is not supported.`);
    const fields = query.fields.map((name) => this.canonicalField(object, name, 'select'));
    for (const name of conditionFields(query.where)) {
      const field = this.canonicalField(object, name, 'filter');
      const def = this.schemaOf(object)[field]!;
      if (def.type === 'textarea' && (def.length ?? 0) > 255)
        throw new SoqlError('INVALID_FIELD', `field '${field}' can not be filtered in a query call`);
    }
    let records = [...this.table(object).values()];
    if (query.where) {
      const where = query.where;
      records = records.filter((record) =>
        evaluate(where, (name) => record[this.canonicalField(object, name, 'filter')]),
      );
    }
    if (query.limit !== undefined) records = records.slice(0, query.limit);
    const rows = records.map((record) => ({
      attributes: { type: object, url: this.recordUrl(object, record.Id, version) },
      ...Object.fromEntries(fields.map((field) => [field, record[field] ?? null])),
    }));
    return this.page(rows, object, version);
  }

  private page(rows: unknown[], type: string, version: number, offset = 0) {
    const size = this.options.queryPageSize;
    const records = rows.slice(offset, offset + size);
    const done = offset + size >= rows.length;
    const result: Record<string, unknown> = { totalSize: rows.length, done, records };
    if (!done) {
      const locator = `01g${randomBytes(6).toString('hex')}-${offset + size}`;
      this.cursors.set(locator, { records: rows, type });
      result.nextRecordsUrl = `/services/data/v${version.toFixed(1)}/query/${locator}`;
    }
    return result;
  }

  private nextPage(locator: string, version: number) {
    const cursor = this.cursors.get(locator);
    if (!cursor)
      throw new RequestError(400, [{ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' }]);
    this.cursors.delete(locator);
    return this.page(cursor.records, cursor.type, version, Number(locator.split('-').pop()));
  }

  private retrieve(object: string, id: string, version: number): Answer {
    const record = this.table(object).get(this.fullId(object, id) ?? '');
    if (!record) return notFound();
    return {
      status: 200,
      body: { attributes: { type: object, url: this.recordUrl(object, record.Id, version) }, ...record },
    };
  }

  private remove(object: string, id: string): Answer {
    const full = this.fullId(object, id);
    if (!full) return notFound();
    this.table(object).delete(full);
    return { status: 204 };
  }

  private createOne(object: string, body: unknown): Answer {
    const fields = this.bodyFields(object, body);
    const result = this.save(object, fields, undefined, 'duplicateResut');
    if (!result.ok) return { status: 400, body: result.errors };
    return { status: 201, body: { id: result.id, success: true, errors: [] } };
  }

  private updateOne(object: string, id: string, body: unknown): Answer {
    const full = this.fullId(object, id);
    if (!full) return notFound();
    const result = this.save(object, this.bodyFields(object, body), full, 'duplicateResut');
    if (!result.ok) return { status: 400, body: result.errors };
    return { status: 204 };
  }

  private upsertOne(
    object: string,
    fieldName: string,
    value: string,
    body: unknown,
    version: number,
  ): Answer {
    const field = this.externalIdField(object, fieldName);
    const fields = this.bodyFields(object, body);
    const matches = [...this.table(object).values()].filter((r) => sameText(r[field], value));
    if (matches.length > 1)
      return { status: 300, body: matches.map((record) => this.recordUrl(object, record.Id, version)) };
    const existing = matches[0];
    const result = this.save(
      object,
      existing ? fields : { ...fields, [field]: value },
      existing?.Id,
      'duplicateResut',
    );
    if (!result.ok) return { status: 400, body: result.errors };
    const answer = { id: result.id, success: true, errors: [], created: result.created };
    if (result.created) return { status: 201, body: answer };
    return version >= 46 ? { status: 200, body: answer } : { status: 204 };
  }

  private collection(
    kind: 'create' | 'update' | 'upsert',
    body: unknown,
    upsertObject?: string,
    upsertField?: string,
  ): Answer {
    const request = (body ?? {}) as { allOrNone?: boolean; records?: unknown };
    if (!Array.isArray(request.records))
      throw new RequestError(400, [{ errorCode: 'JSON_PARSER_ERROR', message: 'records is required' }]);
    if (request.records.length > 200)
      throw new RequestError(400, [
        {
          errorCode: 'EXCEEDED_ID_LIMIT',
          message: 'record limit reached. cannot submit more than 200 records into this call',
        },
      ]);
    const field = upsertObject && upsertField ? this.externalIdField(upsertObject, upsertField) : undefined;
    // Field names and types are checked for the whole request first, as Salesforce deserializes it first.
    const parsed = request.records.map((item) => {
      const record = (item ?? {}) as Record<string, unknown>;
      const attributes = record.attributes as { type?: string } | undefined;
      const object = upsertObject ?? attributes?.type;
      if (!object)
        throw new RequestError(400, [
          { errorCode: 'INVALID_TYPE', message: 'Must specify a type in the attributes map' },
        ]);
      this.requireObject(object);
      const { id, Id, ...rest } = record;
      return { object, id: (id ?? Id) as string | undefined, fields: this.bodyFields(object, rest) };
    });
    const snapshot = request.allOrNone ? this.snapshot() : undefined;
    const results: Record<string, unknown>[] = [];
    for (const { object, id, fields } of parsed) {
      let result: SaveResult;
      if (kind === 'create') {
        result = id
          ? {
              ok: false,
              errors: [
                {
                  errorCode: 'INVALID_FIELD',
                  message: 'cannot specify Id in an insert call',
                  fields: ['Id'],
                },
              ],
            }
          : this.save(object, fields, undefined, 'duplicateResult');
      } else if (kind === 'update') {
        const full = id ? this.fullId(object, id) : undefined;
        result = full
          ? this.save(object, fields, full, 'duplicateResult')
          : {
              ok: false,
              errors: [
                {
                  errorCode: 'MALFORMED_ID',
                  message: `${object} ID: id value of incorrect type: ${id}`,
                  fields: ['Id'],
                },
              ],
            };
      } else {
        const value = fields[field!];
        const matches =
          typeof value === 'string'
            ? [...this.table(object).values()].filter((r) => sameText(r[field!], value))
            : [];
        if (typeof value !== 'string' || value === '')
          result = {
            ok: false,
            errors: [
              {
                errorCode: 'REQUIRED_FIELD_MISSING',
                message: `Required fields are missing: [${field}]`,
                fields: [field!],
              },
            ],
          };
        else if (matches.length > 1)
          result = {
            ok: false,
            errors: [
              {
                errorCode: 'DUPLICATE_EXTERNAL_ID',
                message: `${field}: more than one record found for external id field: [${matches.map((m) => m.Id).join(', ')}]`,
                fields: [field!],
              },
            ],
          };
        else result = this.save(object, fields, matches[0]?.Id, 'duplicateResult');
      }
      results.push(
        result.ok
          ? {
              id: result.id,
              success: true,
              errors: [],
              ...(kind === 'upsert' ? { created: result.created } : {}),
            }
          : {
              success: false,
              errors: result.errors.map(({ errorCode, ...rest }) => ({ statusCode: errorCode, ...rest })),
            },
      );
    }
    if (snapshot && results.some((result) => !result.success)) {
      this.restore(snapshot);
      for (const result of results)
        if (result.success)
          Object.assign(result, {
            id: undefined,
            success: false,
            errors: [
              {
                statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                message:
                  'Record rolled back because not all records were valid and the request was using AllOrNone header',
                fields: [],
              },
            ],
          });
    }
    return { status: 200, body: results };
  }

  /* ---------------- saving ---------------- */

  /** Field names as the request wrote them, checked against the object (a bad name refuses the whole request). */
  private bodyFields(object: string, body: unknown): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new RequestError(400, [
        { errorCode: 'JSON_PARSER_ERROR', message: 'The request body must be a JSON object' },
      ]);
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (name === 'attributes') continue;
      const field = this.canonicalField(object, name, 'write');
      const def = this.schemaOf(object)[field]!;
      if (value !== null && typeof value === 'object')
        throw new RequestError(400, [
          {
            errorCode: 'JSON_PARSER_ERROR',
            message: `Cannot deserialize instance of ${def.type} from START_OBJECT value`,
          },
        ]);
      if (def.type === 'date' && value !== null && !/^\d{4}-\d{2}-\d{2}$/.test(String(value)))
        throw new RequestError(400, [
          {
            errorCode: 'JSON_PARSER_ERROR',
            message: `Cannot deserialize instance of date from VALUE_STRING value ${String(value)} or request may be missing a required field`,
          },
        ]);
      fields[field] = value === '' ? null : value;
    }
    return fields;
  }

  /** Creates (no id) or updates a record, with every check Salesforce makes on save. */
  private save(
    object: string,
    fields: Record<string, unknown>,
    id: string | undefined,
    duplicateKey: 'duplicateResut' | 'duplicateResult',
  ): SaveResult {
    const schema = this.schemaOf(object);
    const existing = id ? this.table(object).get(id) : undefined;
    if (id && !existing)
      return {
        ok: false,
        errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
      };
    const readonly = Object.keys(fields).filter((name) => schema[name]?.readonly);
    if (readonly.length > 0)
      return {
        ok: false,
        errors: [
          {
            errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
            message: `Unable to create/update fields: ${readonly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
            fields: readonly,
          },
        ],
      };
    if (object === 'Lead' && existing?.IsConverted)
      return {
        ok: false,
        errors: [
          {
            errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD',
            message: 'cannot reference converted lead',
            fields: [],
          },
        ],
      };
    const merged: Record<string, unknown> = { ...(existing ?? DEFAULTS_ON_CREATE[object] ?? {}), ...fields };
    const errors: SfError[] = [];
    const missing = Object.entries(schema)
      .filter(
        ([name, def]) =>
          def.required && (merged[name] === undefined || merged[name] === null || merged[name] === ''),
      )
      .map(([name]) => name);
    if (missing.length > 0)
      errors.push({
        errorCode: 'REQUIRED_FIELD_MISSING',
        message: `Required fields are missing: [${missing.join(', ')}]`,
        fields: missing,
      });
    for (const [name, value] of Object.entries(fields)) {
      if (value === null || value === undefined) continue;
      const def = schema[name]!;
      const text = String(value);
      if (def.type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text))
        errors.push({
          errorCode: 'INVALID_EMAIL_ADDRESS',
          message: `${name}: invalid email address: ${text}`,
          fields: [name],
        });
      else if (def.length !== undefined && text.length > def.length)
        errors.push({
          errorCode: 'STRING_TOO_LONG',
          message: `${label(name)}: data value too large: ${text.slice(0, 40)}... (max length=${def.length})`,
          fields: [name],
        });
      else if (def.restricted && def.values && !def.values.includes(text))
        errors.push({
          errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          message: `${label(name)}: bad value for restricted picklist field: ${text}`,
          fields: [name],
        });
      else if (def.type === 'reference' && name !== 'OwnerId') {
        const target = this.find(text);
        if (!target || !(def.to ?? []).includes(target.object))
          errors.push(
            /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(text) &&
              target === undefined &&
              def.to?.some((o) => text.startsWith(PREFIXES[o] ?? '~'))
              ? {
                  errorCode: 'INVALID_CROSS_REFERENCE_KEY',
                  message: 'invalid cross reference id',
                  fields: [],
                }
              : {
                  errorCode: 'FIELD_INTEGRITY_EXCEPTION',
                  message: `${label(name)}: id value of incorrect type: ${text}`,
                  fields: [name],
                },
          );
      }
    }
    if (errors.length > 0) return { ok: false, errors };
    for (const rule of this.validationRules.get(object) ?? [])
      if (rule.when(merged))
        return {
          ok: false,
          errors: [
            {
              errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
              message: rule.message,
              fields: rule.field ? [rule.field] : [],
            },
          ],
        };
    const duplicates = this.duplicatesOf(object, merged, id);
    if (duplicates)
      return { ok: false, errors: [{ ...duplicates.error, [duplicateKey]: duplicates.detail }] };

    const now = new Date().toISOString();
    if (existing) {
      Object.assign(existing, fields, { LastModifiedDate: now });
      this.computeFields(object, existing);
      return { ok: true, id: existing.Id, created: false };
    }
    const newId = this.newId(object);
    const record: SandboxRecord = {
      OwnerId: USER_ID,
      ...merged,
      Id: newId,
      CreatedDate: now,
      LastModifiedDate: now,
    };
    this.computeFields(object, record);
    this.table(object).set(newId, record);
    return { ok: true, id: newId, created: true };
  }

  private duplicatesOf(object: string, record: Record<string, unknown>, selfId: string | undefined) {
    const rule = this.duplicateRules.get(object);
    if (!rule) return undefined;
    const values = rule.fields.map((field) => record[field]);
    if (values.some((value) => value === undefined || value === null || value === '')) return undefined;
    const matchResults = (rule.against ?? [object])
      .map((other) => {
        const found = [...this.table(other).values()].filter(
          (candidate) =>
            candidate.Id !== selfId &&
            !(other === 'Lead' && candidate.IsConverted) &&
            rule.fields.every((field, i) => sameText(candidate[field], values[i])),
        );
        return {
          entityType: other,
          errorMessage: null,
          matchEngine: 'ExactMatchEngine',
          matchRecords: found.map((candidate) => ({
            additionalInformation: [],
            fieldDiffs: [],
            matchConfidence: 100,
            record: {
              attributes: { type: other, url: this.recordUrl(other, candidate.Id, 62) },
              Id: candidate.Id,
            },
          })),
          rule: `${other}_Match_Rule`,
          size: found.length,
          success: true,
        };
      })
      .filter((result) => result.size > 0);
    if (matchResults.length === 0) return undefined;
    return {
      error: { errorCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: [] },
      detail: {
        allowSave: false,
        duplicateRule: rule.name ?? `Standard_Rule_for_${object}s`,
        duplicateRuleEntityType: object,
        errorMessage: 'Use one of these records?',
        matchResults,
      },
    };
  }

  private computeFields(object: string, record: SandboxRecord): void {
    if (object === 'Lead' || object === 'Contact')
      record.Name = [record.FirstName, record.LastName]
        .filter((part) => typeof part === 'string' && part)
        .join(' ');
    if (object === 'Task') record.IsClosed = record.Status === 'Completed';
  }

  /* ---------------- helpers ---------------- */

  private schemaOf(object: string): Record<string, FieldDef> {
    const schema = this.schema[object];
    if (!schema) throw new Error(`the sandbox has no object ${object}`);
    return schema;
  }

  private table(object: string): Map<string, SandboxRecord> {
    let table = this.store.get(object);
    if (!table) {
      this.schemaOf(object);
      table = new Map();
      this.store.set(object, table);
    }
    return table;
  }

  private canonicalObject(name: string): string | undefined {
    return Object.keys(this.schema).find((object) => object.toLowerCase() === name.toLowerCase());
  }

  private requireObject(name: string): void {
    if (!this.schema[name])
      throw new RequestError(404, [
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ]);
  }

  private canonicalField(object: string, name: string, use: 'select' | 'filter' | 'write'): string {
    const field = Object.keys(this.schemaOf(object)).find((f) => f.toLowerCase() === name.toLowerCase());
    if (field) return field;
    const message =
      use === 'write'
        ? `No such column '${name}' on sobject of type ${object}`
        : `No such column '${name}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`;
    if (use === 'write')
      throw new RequestError(400, [{ errorCode: 'INVALID_FIELD', message, fields: [name] }]);
    throw new SoqlError('INVALID_FIELD', message);
  }

  private externalIdField(object: string, name: string): string {
    const field = Object.keys(this.schemaOf(object)).find((f) => f.toLowerCase() === name.toLowerCase());
    if (!field || !this.schemaOf(object)[field]!.externalId)
      throw new RequestError(404, [
        {
          errorCode: 'NOT_FOUND',
          message: `Provided external ID field does not exist or is not accessible: ${name}`,
        },
      ]);
    return field;
  }

  private isIdOf(value: string, object: string): boolean {
    return /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(value) && value.startsWith(PREFIXES[object] ?? '~');
  }

  private fullId(object: string, id: string): string | undefined {
    const table = this.table(object);
    if (table.has(id)) return id;
    return [...table.keys()].find((full) => full.slice(0, 15) === id.slice(0, 15));
  }

  private find(id: string): { object: string; record: SandboxRecord } | undefined {
    for (const [object, table] of this.store) {
      const full = this.fullId(object, id);
      if (full) return { object, record: table.get(full)! };
    }
    return undefined;
  }

  private recordUrl(object: string, id: string, version: number): string {
    return `/services/data/v${version.toFixed(1)}/sobjects/${object}/${id}`;
  }

  /** 18-character ids with the object's key prefix and Salesforce's case-checksum suffix. */
  private newId(object: string): string {
    const prefix = PREFIXES[object] ?? '000';
    this.counter++;
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let n = this.counter;
    let body = '';
    while (n > 0) {
      body = digits[n % 62]! + body;
      n = Math.floor(n / 62);
    }
    const id15 = `${prefix}5g${body.padStart(10, '0')}`;
    return id15 + checksum(id15);
  }

  private snapshot(): Map<string, Map<string, SandboxRecord>> {
    return new Map(
      [...this.store].map(([object, table]) => [
        object,
        new Map([...table].map(([id, r]) => [id, structuredClone(r)])),
      ]),
    );
  }

  private restore(snapshot: Map<string, Map<string, SandboxRecord>>): void {
    this.store.clear();
    for (const [object, table] of snapshot) this.store.set(object, table);
  }
}

function checksum(id15: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id15[chunk * 5 + i]!)) bits |= 1 << i;
    suffix += alphabet[bits];
  }
  return suffix;
}

function sameText(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

/** Salesforce names fields by label in messages ("Name ID" for WhoId); close enough. */
function label(field: string): string {
  if (field === 'WhoId') return 'Name ID';
  if (field === 'WhatId') return 'Related To ID';
  return field;
}

function notFound(): Answer {
  return {
    status: 404,
    body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
  };
}

function faultAnswer(fault: SandboxFault): Answer {
  const defaultStatus: Record<string, number> = {
    REQUEST_LIMIT_EXCEEDED: 403,
    INVALID_SESSION_ID: 401,
    UNABLE_TO_LOCK_ROW: 400,
    SERVER_UNAVAILABLE: 503,
    UNKNOWN_EXCEPTION: 500,
  };
  const status = fault.status ?? (fault.errorCode ? (defaultStatus[fault.errorCode] ?? 400) : 503);
  const headers: Record<string, string> = {};
  if (fault.retryAfter) headers['retry-after'] = fault.retryAfter;
  if (fault.contentType) headers['content-type'] = fault.contentType;
  if (fault.body !== undefined)
    return { status, body: fault.body, headers: { 'content-type': 'text/plain', ...headers } };
  const errorCode = fault.errorCode ?? (status >= 500 ? 'SERVER_UNAVAILABLE' : 'ERROR');
  return { status, body: [{ message: fault.message ?? `${errorCode} (injected)`, errorCode }], headers };
}

/** A request body for the log: JSON or a form as an object, else the text. */
function readable(raw: string, contentType: string | undefined): unknown {
  if (contentType?.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
