import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector } from '../faults.ts';
import { type LoopbackServer, listenOnLoopback } from '../server.ts';
import { collection } from './collections.ts';
import {
  carriedOperations,
  operationsOf,
  runComposite,
  type SandboxOperation,
  type SandboxSubrequest,
} from './composite.ts';
import { type Answer, notFound, RequestError } from './errors.ts';
import { faultAnswer, faultKind, faultMatches, type SandboxFault } from './faults.ts';
import { answerTokenRequest } from './oauth.ts';
import { SandboxQueries } from './query.ts';
import { SandboxOrg, type SandboxRecord } from './records.ts';
import { type DuplicateRule, SandboxRules, type ValidationRule } from './rules.ts';
import { createOne, remove, retrieve, updateOne, upsertOne } from './sobjects.ts';
import { SoqlError } from './soql.ts';

/*
 * A local stand-in for a Salesforce org's REST API, answering the paths
 * jsforce calls with Salesforce's shapes: OAuth token endpoint, SOQL query,
 * sObject create/update/upsert-by-external-ID, sObject Collections, Composite
 * (subrequests with references, allOrNone, one API request). It keeps
 * Leads, Contacts, Accounts and Tasks in memory, enforces required fields,
 * field lengths, email format, restricted picklists, read-only fields,
 * converted Leads, switchable duplicate rules, admins' validation rules and
 * a daily API-request budget, and can be told to fail (before or after
 * performing a request: a lost answer). Used by the tests and `npm run demo`;
 * `GET /_sandbox/state` shows the records over HTTP.
 */

export type { SandboxOperation, SandboxSubrequest } from './composite.ts';
export type { SandboxFault } from './faults.ts';
export type { SandboxRecord } from './records.ts';
export type { DuplicateRule, ValidationRule } from './rules.ts';

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
  /** The subrequests of a `/composite` call, with what each answered. */
  subrequests?: SandboxSubrequest[];
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

/** Salesforce refuses requests whose URI and headers pass 16,384 bytes (431; Node's own header limit answers the same). */
const URI_LIMIT = 16_384;

export class SalesforceSandbox {
  readonly requests: SandboxRequest[] = [];
  /** Grant types of the token requests received, in order. */
  readonly tokenRequests: { grantType: string; ok: boolean; at: number }[] = [];
  /** API requests counted against the daily budget. */
  apiUsage = 0;
  dailyLimit: number;
  /** The most requests that were being handled at the same moment. */
  peakConcurrency = 0;

  private readonly org: SandboxOrg;
  private readonly rules: SandboxRules;
  private readonly queries: SandboxQueries;
  private readonly tokens = new Set<string>();
  private readonly faults = new FaultInjector<SandboxFault>(faultKind);
  /** Faults injected so far (queued and random), by kind. */
  readonly injected = this.faults.injected;
  private readonly options: Required<
    Pick<SalesforceSandboxOptions, 'clientId' | 'clientSecret' | 'refreshToken' | 'queryPageSize'>
  > &
    SalesforceSandboxOptions;
  private open = 0;

  private constructor(
    private readonly http: LoopbackServer,
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
    this.org = new SandboxOrg(options);
    this.rules = new SandboxRules(this.org);
    this.queries = new SandboxQueries(this.org, this.options.queryPageSize);
  }

  static async start(options: SalesforceSandboxOptions = {}): Promise<SalesforceSandbox> {
    let sandbox: SalesforceSandbox | undefined;
    const http = await listenOnLoopback((req, res) => void sandbox!.handle(req, res), options.port);
    sandbox = new SalesforceSandbox(http, http.origin, options);
    return sandbox;
  }

  async close(): Promise<void> {
    await this.http.close();
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
    return this.org.records(object);
  }

  record(id: string): SandboxRecord | undefined {
    const found = this.org.find(id);
    return found ? structuredClone(found.record) : undefined;
  }

  /** REST API requests received (token requests excluded), optionally only those whose path contains `part`. */
  apiRequests(part = ''): SandboxRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/services/data/') && r.path.includes(part));
  }

  /**
   * What acted on the org, in order: each REST request, except that a
   * `/composite` call is replaced by its subrequests. Optionally only those
   * whose path contains `part`.
   *
   * @example
   * sandbox.operations('/sobjects/Task').filter((op) => op.method === 'POST') // every Task create, composite or not
   */
  operations(part = ''): SandboxOperation[] {
    return this.apiRequests().flatMap((request) => operationsOf(request, part));
  }

  /** Adds a record as an admin's import would: no validation, no rules. Returns its id. */
  seed(object: string, fields: Record<string, unknown>): string {
    return this.org.seed(object, fields);
  }

  /**
   * Converts a Lead as a sales rep would: a new Account (from Company) and
   * Contact, the Lead marked IsConverted with ConvertedContactId, its Tasks
   * moved to the Contact.
   */
  convertLead(leadId: string): { leadId: string; contactId: string; accountId: string } {
    return this.org.convertLead(leadId);
  }

  /** Deletes a record as a user would: into the Recycle Bin with its Tasks (records.ts, `delete`). */
  deleteRecord(id: string): void {
    const found = this.org.find(id);
    if (!found || !this.org.delete(found.object, id)) throw new Error(`no record ${id} to delete`);
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
    this.rules.setDuplicateRule(object, rule);
  }

  /** Adds an admin's validation rule: saving a record for which `when` is true fails with `message`. */
  addValidationRule(object: string, rule: ValidationRule): void {
    this.rules.addValidationRule(object, rule);
  }

  /** An admin makes a field required (adding it as a text field if the object has no such field). */
  requireField(object: string, field: string): void {
    const schema = this.org.schemaOf(object);
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

  /**
   * The next `count` matching requests get `fault`. A fault's `match` also
   * fits a `/composite` call one of whose subrequests it names (the call
   * carrying that write is what fails, is delayed or loses its answer);
   * with `subrequest: true` it answers that subrequest instead, inside the
   * composite response.
   */
  failNext(count: number, fault: SandboxFault = {}): void {
    this.faults.queue(count, fault);
  }

  /**
   * From now on each request fails with probability `rate`, with one of the
   * `faults` whose `match` fits it, picked at random. As with `failNext`, a
   * fault without `match` fits every REST API request, SOQL look-ups included
   * (they are leadrelay's check before redo); the OAuth token endpoint gets
   * only faults that name it in `match.path`: in production it is another
   * host (login.salesforce.com, or My Domain) with its own error shape, asked
   * once per process, and its failures have `failNext` tests of their own.
   * `failNext` faults come first; `rate` 0 stops.
   */
  failRandomly(rate: number, faults: SandboxFault[]): void {
    this.faults.setRandom(rate, faults);
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
    // A composite call fits a fault that names one of its subrequests.
    const operations = carriedOperations(method, url.pathname, entry.body, this.url);
    const fault = this.faults.take(
      (candidate) =>
        !candidate.subrequest && operations.some((op) => faultMatches(candidate, op.method, op.path)),
    );
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
      answer = answerTokenRequest(Object.fromEntries(new URLSearchParams(raw)), {
        url: this.url,
        options: this.options,
        tokens: this.tokens,
        tokenRequests: this.tokenRequests,
      });
    } else if (url.pathname.startsWith('/services/data/')) {
      answer = this.api(req, url, method, raw, entry);
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

  /* ---------------- REST API ---------------- */

  private api(req: IncomingMessage, url: URL, method: string, raw: string, entry: SandboxRequest): Answer {
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
    // One API request, whatever it carries: a composite call's subrequests are not counted.
    this.apiUsage++;

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
    if (method === 'POST' && /^\/services\/data\/v\d+\.\d\/composite\/?$/.test(url.pathname)) {
      const version = Number(/v(\d+\.\d)/.exec(url.pathname)![1]);
      if (version < 38 || version > 66) return notFound();
      try {
        const { answer, log } = runComposite(body, {
          org: this.org,
          origin: this.url,
          perform: (subMethod, subUrl, subBody) => this.perform(subMethod, subUrl, subBody),
          fault: (subMethod, path) =>
            this.faults.take(
              (candidate) => candidate.subrequest === true && faultMatches(candidate, subMethod, path),
            ),
        });
        entry.subrequests = log;
        return answer;
      } catch (error) {
        if (error instanceof RequestError) return { status: error.status, body: error.errors };
        throw error;
      }
    }
    return this.perform(method, url, body);
  }

  /** One REST request (or composite subrequest) on the org, Salesforce's errors as answers. */
  private perform(method: string, url: URL, body: unknown): Answer {
    const versioned = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(url.pathname);
    const version = versioned ? Number(versioned[1]) : 0;
    if (!versioned || version < 31 || version > 66) return notFound();
    const rest = versioned[2] ?? '/';
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
      return { status: 200, body: this.queries.query(url.searchParams.get('q') ?? '', version) };
    }
    if (method === 'GET' && head === 'query' && a)
      return { status: 200, body: this.queries.nextPage(a, version) };
    if (method === 'GET' && head === 'limits')
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: this.dailyLimit, Remaining: Math.max(0, this.dailyLimit - this.apiUsage) },
        },
      };
    if (head === 'sobjects' && a) {
      this.org.requireObject(a);
      if (method === 'POST' && !b) return createOne(this.org, this.rules, a, body);
      if (b && !c && this.org.isIdOf(b, a)) {
        if (method === 'GET') return retrieve(this.org, a, b, version);
        if (method === 'PATCH') return updateOne(this.org, this.rules, a, b, body);
        if (method === 'DELETE') return remove(this.org, a, b);
      }
      if (b && c !== undefined && method === 'PATCH')
        return upsertOne(this.org, this.rules, a, b, c, body, version);
    }
    if (head === 'composite' && a === 'sobjects') {
      if (version < 42) return notFound();
      if (method === 'POST' && !b) return collection(this.org, this.rules, 'create', body);
      if (method === 'PATCH' && !b) return collection(this.org, this.rules, 'update', body);
      if (method === 'PATCH' && b && c) {
        if (version < 46) return notFound();
        this.org.requireObject(b);
        return collection(this.org, this.rules, 'upsert', body, b, c);
      }
    }
    return notFound();
  }
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
