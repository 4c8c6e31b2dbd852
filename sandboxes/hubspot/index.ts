import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector } from '../faults.ts';
import { type LoopbackServer, listenOnLoopback } from '../server.ts';
import {
  batchAnswer,
  contactIdsOf,
  contactJson,
  errorAnswer,
  hubspotError,
  noteJson,
  notFoundError,
  serverErrorBody,
  tenSecondlyBody,
} from './answers.ts';
import { batchUpdate } from './batch-update.ts';
import { PortalState, ValidationFailure } from './state.ts';

export interface HubSpotSandboxOptions {
  port?: number;
  /** Valid private-app tokens (default: one, `pat-sandbox`). */
  tokens?: string[];
  /** Requests allowed per rolling 10 s (HubSpot: 100 on Free/Starter, 190 on Professional/Enterprise). */
  tenSecondlyLimit?: number;
  dailyLimit?: number;
  portalId?: number;
}

/**
 * What the sandbox answers instead of its normal answer. `{}` is a 500; a
 * status alone gets HubSpot's body for it (429: the TEN_SECONDLY_ROLLING
 * body and rate-limit headers); `delayMs` alone only slows the normal answer.
 */
export interface HubSpotFault {
  status?: number;
  body?: unknown;
  /** Wait before answering (with a status: a timeout that took no effect; alone: a slow answer). */
  delayMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
  /** Only for requests whose path contains this (e.g. '/notes'), or matches this pattern. */
  path?: string | RegExp;
  /** Let the request take effect, then (after `delayMs`) drop the connection: the write happened, the answer is lost. */
  afterEffect?: boolean;
  /** How `injected` counts it (default: from the fields, e.g. `429`, `reset`, `slow 200 ms`). */
  kind?: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  at: number;
}

/**
 * A local HubSpot for tests and the demo: the CRM v3 endpoints leadrelay uses,
 * with HubSpot's shapes, status codes and error bodies, private-app bearer
 * tokens, a rolling ten-second rate limit answering HubSpot's 429, a daily
 * limit, unique emails, unknown-property validation, eventually consistent
 * search, and fault injection. `state` holds the portal for inspection.
 *
 * @example
 * const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 100 });
 * // connector: base_url: hubspot.url, access_token: 'pat-sandbox'
 * hubspot.state.contacts.size
 */
export class HubSpotSandbox {
  readonly state: PortalState;
  readonly log: LoggedRequest[] = [];
  readonly tokens: Set<string>;
  /** Tokens that HubSpot would answer EXPIRED_AUTHENTICATION for. */
  readonly expiredTokens = new Set<string>();
  /** Tokens that lack the contacts write scope. */
  readonly tokensWithoutScopes = new Set<string>();
  private readonly faults = new FaultInjector<HubSpotFault>(faultKind);
  /** Faults injected so far (queued and random), by kind. */
  readonly injected = this.faults.injected;
  private readonly window: number[] = [];
  private dailyCount = 0;

  private constructor(
    private readonly http: LoopbackServer,
    readonly url: string,
    private readonly options: HubSpotSandboxOptions,
  ) {
    this.state = new PortalState(options.portalId ?? 62_515_001);
    this.tokens = new Set(options.tokens ?? ['pat-sandbox']);
  }

  static async start(options: HubSpotSandboxOptions = {}): Promise<HubSpotSandbox> {
    let sandbox: HubSpotSandbox | undefined;
    const http = await listenOnLoopback((req, res) => void sandbox!.handle(req, res), options.port);
    sandbox = new HubSpotSandbox(http, http.origin, options);
    return sandbox;
  }

  /** The next `count` matching requests get `fault` instead of their normal answer. */
  failNext(count: number, fault: HubSpotFault): void {
    this.faults.queue(count, fault);
  }

  /**
   * From now on each request fails with probability `rate`, with one of the
   * `faults` whose `path` fits it, picked at random. Every request can get one,
   * read-only look-ups included: they are leadrelay's check before redo, which
   * must not take a failed look-up for "not there" (HubSpot has no token
   * endpoint for private apps). `failNext` faults come first; `rate` 0 stops.
   */
  failRandomly(rate: number, faults: HubSpotFault[]): void {
    this.faults.setRandom(rate, faults);
  }

  /** Answers that were 429. */
  rateLimited(): number {
    return this.log.filter((entry) => entry.status === 429).length;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.log.push({ method, path: url.pathname, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };

    const fits = (fault: HubSpotFault) =>
      !fault.path ||
      (typeof fault.path === 'string' ? url.pathname.includes(fault.path) : fault.path.test(url.pathname));
    const fault = this.faults.take(fits);
    const slowOnly =
      fault !== undefined &&
      !fault.afterEffect &&
      !fault.reset &&
      fault.status === undefined &&
      fault.body === undefined &&
      (fault.delayMs ?? 0) > 0;
    if (fault?.delayMs && !fault.afterEffect)
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault && !fault.afterEffect && !slowOnly) {
      if (fault.reset) {
        this.log.push({ method, path: url.pathname, status: 0, at: Date.now() });
        req.socket.destroy();
        return;
      }
      const status = fault.status ?? 500;
      if (status === 429 && fault.body === undefined) {
        return send(429, tenSecondlyBody(), { ...this.limitHeaders(), 'x-hubspot-ratelimit-remaining': '0' });
      }
      return send(status, fault.body ?? serverErrorBody(status));
    }

    const auth = this.authenticate(req.headers.authorization);
    if (auth) return send(auth.status, auth.body);
    const limited = this.rateLimit();
    if (limited) return send(429, limited.body, limited.headers);

    let body: Record<string, unknown> = {};
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(400, hubspotError('VALIDATION_ERROR', 'Invalid input JSON on line 1'));
      }
    }
    let answer: { status: number; body?: unknown };
    try {
      answer = this.route(method, url, body);
    } catch (error) {
      answer = errorAnswer(error);
    }
    if (fault?.afterEffect) {
      // The write happened; the answer never comes (after an optional hang, e.g. for a crash to strike).
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      this.log.push({ method, path: url.pathname, status: 0, at: Date.now() });
      req.socket.destroy();
      return;
    }
    send(answer.status, answer.body, this.limitHeaders());
  }

  private authenticate(header: string | undefined): { status: number; body: unknown } | undefined {
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (token && this.expiredTokens.has(token)) {
      return {
        status: 401,
        body: hubspotError(
          'EXPIRED_AUTHENTICATION',
          'The OAuth token used to make this call expired 2 hour(s) ago.',
        ),
      };
    }
    if (!token || !this.tokens.has(token)) {
      return {
        status: 401,
        body: hubspotError(
          'INVALID_AUTHENTICATION',
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        ),
      };
    }
    if (this.tokensWithoutScopes.has(token)) {
      return {
        status: 403,
        body: {
          ...hubspotError(
            'MISSING_SCOPES',
            "This app hasn't been granted all required scopes to make this call.",
          ),
          errors: [
            {
              message: 'One or more of the following scopes are required.',
              context: { requiredGranularScopes: ['crm.objects.contacts.write'] },
            },
          ],
        },
      };
    }
    return undefined;
  }

  private rateLimit(): { body: unknown; headers: Record<string, string> } | undefined {
    const now = Date.now();
    while (this.window.length > 0 && this.window[0]! <= now - 10_000) this.window.shift();
    const max = this.options.tenSecondlyLimit ?? 100;
    const daily = this.options.dailyLimit ?? 250_000;
    if (this.dailyCount >= daily) {
      return {
        body: {
          ...hubspotError('RATE_LIMITS', 'You have reached your daily limit.'),
          errorType: 'RATE_LIMIT',
          policyName: 'DAILY',
        },
        headers: { ...this.limitHeaders(), 'x-hubspot-ratelimit-daily-remaining': '0' },
      };
    }
    if (this.window.length >= max) return { body: tenSecondlyBody(), headers: this.limitHeaders() };
    this.window.push(now);
    this.dailyCount++;
    return undefined;
  }

  private limitHeaders(): Record<string, string> {
    const max = this.options.tenSecondlyLimit ?? 100;
    const daily = this.options.dailyLimit ?? 250_000;
    return {
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': String(max),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, max - this.window.length)),
      'x-hubspot-ratelimit-daily': String(daily),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, daily - this.dailyCount)),
    };
  }

  private route(method: string, url: URL, body: Record<string, unknown>): { status: number; body?: unknown } {
    const path = url.pathname;
    const state = this.state;
    if (method === 'GET' && path === '/account-info/v3/details') {
      return {
        status: 200,
        body: {
          portalId: state.portalId,
          timeZone: 'US/Eastern',
          companyCurrency: 'USD',
          uiDomain: 'app.hubspot.com',
          dataHostingLocation: 'na1',
        },
      };
    }
    const inputs = (Array.isArray(body.inputs) ? body.inputs : []) as Record<string, unknown>[];
    if (method === 'POST' && path === '/crm/v3/objects/contacts') {
      return {
        status: 201,
        body: contactJson(state.createContact(body.properties as Record<string, unknown>)),
      };
    }
    if (method === 'POST' && path === '/crm/v3/objects/contacts/search') {
      const found = state.search((body.filterGroups ?? []) as never);
      const limit = Number(body.limit ?? 10);
      return {
        status: 200,
        body: { total: found.length, results: found.slice(0, limit).map((c) => contactJson(c)) },
      };
    }
    if (method === 'POST' && path === '/crm/v3/objects/contacts/batch/upsert')
      return this.batchUpsert(inputs);
    if (method === 'POST' && path === '/crm/v3/objects/contacts/batch/read') {
      const idProperty = typeof body.idProperty === 'string' ? body.idProperty : undefined;
      const results: unknown[] = [];
      const missing: string[] = [];
      for (const input of inputs) {
        const contact = state.contactBy(String(input.id), idProperty);
        if (contact) results.push(contactJson(contact));
        else missing.push(String(input.id));
      }
      return batchAnswer(results, missing.length ? [notFoundError(missing)] : [], 200);
    }
    if (method === 'POST' && path === '/crm/v3/objects/contacts/batch/update')
      return batchUpdate(state, inputs);
    if (method === 'POST' && path === '/crm/v3/objects/contacts/merge') {
      // developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge
      const merged = state.mergeContacts(String(body.primaryObjectId), String(body.objectIdToMerge));
      return { status: 200, body: contactJson(merged) };
    }
    const contactMatch = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/.exec(path);
    if (contactMatch && method === 'DELETE') {
      // Archive: 204 without a body, as HubSpot answers.
      const contact = state.contactBy(decodeURIComponent(contactMatch[1]!), undefined);
      if (!contact) return { status: 404, body: hubspotError('OBJECT_NOT_FOUND', 'resource not found') };
      state.archiveContact(contact.id);
      return { status: 204 };
    }
    if (contactMatch && (method === 'GET' || method === 'PATCH')) {
      const contact = state.contactBy(
        decodeURIComponent(contactMatch[1]!),
        url.searchParams.get('idProperty') ?? undefined,
      );
      if (!contact) return { status: 404, body: hubspotError('OBJECT_NOT_FOUND', 'resource not found') };
      if (method === 'PATCH')
        return {
          status: 200,
          body: contactJson(state.updateContact(contact, body.properties as Record<string, unknown>)),
        };
      const associations = url.searchParams.get('associations')?.split(',') ?? [];
      const json = contactJson(contact) as Record<string, unknown>;
      if (associations.includes('notes')) {
        const notes = state.notesOf(contact.id);
        if (notes.length > 0) {
          json.associations = {
            notes: { results: notes.map((note) => ({ id: note.id, type: 'contact_to_note' })) },
          };
        }
      }
      return { status: 200, body: json };
    }
    if (method === 'POST' && path === '/crm/v3/objects/notes') {
      return {
        status: 201,
        body: noteJson(state.createNote(body.properties as Record<string, unknown>, contactIdsOf(body))),
      };
    }
    if (method === 'POST' && path === '/crm/v3/objects/notes/batch/create') {
      const created = inputs.map((input) => ({
        ...noteJson(state.createNote(input.properties as Record<string, unknown>, contactIdsOf(input))),
        ...(input.objectWriteTraceId ? { objectWriteTraceId: input.objectWriteTraceId } : {}),
      }));
      return batchAnswer(created, [], 201);
    }
    if (method === 'POST' && path === '/crm/v3/objects/notes/batch/read') {
      const results = inputs
        .map((input) => state.notes.get(String(input.id)))
        .filter((note) => note !== undefined);
      return batchAnswer(results.map(noteJson), [], 200);
    }
    return {
      status: 404,
      body: hubspotError('OBJECT_NOT_FOUND', `No route for ${method} ${path} in the HubSpot sandbox`),
    };
  }

  /**
   * Like HubSpot: all or nothing (400) unless every input carries an
   * objectWriteTraceId, in which case valid inputs are written and the
   * invalid ones are reported per trace id (207).
   */
  private batchUpsert(inputs: Record<string, unknown>[]): { status: number; body?: unknown } {
    if (inputs.length > 100) {
      return {
        status: 400,
        body: hubspotError('VALIDATION_ERROR', `Batch size ${inputs.length} exceeds the maximum of 100`),
      };
    }
    const traced = inputs.length > 0 && inputs.every((input) => typeof input.objectWriteTraceId === 'string');
    const state = this.state;
    // Validate everything first so an untraced batch writes nothing when one input is bad.
    const problems = new Map<number, ValidationFailure>();
    inputs.forEach((input, index) => {
      if (input.idProperty !== 'email') {
        problems.set(
          index,
          new ValidationFailure('Upsert by idProperty is supported for email only in the sandbox', []),
        );
        return;
      }
      try {
        state.validateContact({ ...(input.properties as Record<string, unknown>), email: input.id });
      } catch (error) {
        if (error instanceof ValidationFailure) problems.set(index, error);
      }
    });
    if (problems.size > 0 && !traced) {
      const first = [...problems.values()][0]!;
      return { status: 400, body: { ...hubspotError(first.category, first.message), errors: first.errors } };
    }
    const results: unknown[] = [];
    const errors: unknown[] = [];
    inputs.forEach((input, index) => {
      const problem = problems.get(index);
      if (problem) {
        errors.push({
          ...hubspotError(problem.category, problem.message),
          errors: problem.errors,
          context: { objectWriteTraceId: [input.objectWriteTraceId] },
        });
        return;
      }
      const properties = { ...(input.properties as Record<string, unknown>), email: input.id };
      const existing = state.findByEmail(String(input.id));
      const contact = existing ? state.updateContact(existing, properties) : state.createContact(properties);
      results.push({
        ...contactJson(contact),
        new: !existing,
        ...(input.objectWriteTraceId ? { objectWriteTraceId: input.objectWriteTraceId } : {}),
      });
    });
    return batchAnswer(results, errors, 200);
  }
}

/** How a fault is counted in `injected`. */
function faultKind(fault: HubSpotFault): string {
  if (fault.kind) return fault.kind;
  const delay = fault.delayMs ? ` after ${fault.delayMs} ms` : '';
  if (fault.afterEffect) return `performed, then connection dropped${delay}`;
  if (fault.reset) return `reset${delay}`;
  if (fault.status === undefined && fault.body === undefined && fault.delayMs)
    return `slow ${fault.delayMs} ms`;
  return `${fault.status ?? 500}${delay}`;
}
