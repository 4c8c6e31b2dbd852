import { type Answer, RequestError } from './errors.ts';
import type { SandboxFault } from './faults.ts';
import { faultAnswer } from './faults.ts';
import type { SandboxOrg } from './records.ts';

/*
 * `POST /services/data/vXX.X/composite`, as the REST API Developer Guide
 * documents it ("Send Multiple Requests Using Composite", "Composite Request
 * Body", "Composite Subrequest Result", "allOrNone Parameters in Composite
 * and Collections Requests"):
 *
 * - `{ allOrNone, collateSubrequests, compositeRequest: [{ method, url,
 *   referenceId, body?, httpHeaders? }] }`; the whole call counts as ONE API
 *   request (the caller counts it once; subrequests are not counted).
 * - Up to 25 subrequests, of which up to 5 queries or sObject Collections.
 *   Over 25 Salesforce answers 200 with one result, observed in production
 *   (guardian/support-service-lambdas#766): `{ body: [{ errorCode:
 *   "LIMIT_EXCEEDED", message: "The request can’t contain more than 25
 *   operations." }], httpHeaders: {}, httpStatusCode: 400, referenceId: null }`.
 *   The same shape for the 5-query limit is our assumption (its wording ours).
 * - `@{referenceId.field}` and `@{referenceId.list[0].Id}` in a later
 *   subrequest's url or body take a value from an earlier answer. A reference
 *   without a value (its subrequest failed, or the field is not there)
 *   answers that subrequest 400 `[{ errorCode: "PROCESSING_HALTED", message:
 *   "Invalid reference specified. No value for ref.id found in ref." }]`
 *   (the guide's example, under "Composite Subrequest Result").
 * - allOrNone true: the first failing subrequest keeps its own answer, the
 *   whole request is rolled back and every other subrequest answers 400
 *   `[{ errorCode: "PROCESSING_HALTED", message: "The transaction was rolled
 *   back since another operation in the same transaction failed." }]` (the
 *   guide says every other subrequest answers 400; body as captured from
 *   Salesforce's v50.0 endpoint in Salesforce client libraries' tests).
 *   It also forces allOrNone on sObject Collections subrequests.
 * - allOrNone false: a failure stays with its subrequest; the others run,
 *   except those that reference it (they fail as above).
 * - The top-level answer is 200 either way; a malformed request is a 400
 *   before any subrequest runs.
 *
 * A subrequest counts as failed from status 300 on: an upsert's
 * `300 Multiple Choices` writes nothing, so a transaction cannot go on from
 * it (Salesforce does not document this case; this is our reading).
 * Subrequests run in the order sent, which collation never contradicts.
 */

export interface CompositeSubrequest {
  method: string;
  url: string;
  referenceId: string;
  body?: unknown;
  httpHeaders?: Record<string, string>;
}

export interface SubrequestResult {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string | null;
}

/** One subrequest as the sandbox's request log keeps it. */
export interface SandboxSubrequest {
  method: string;
  /** Path without the query string (as sent, references resolved). */
  path: string;
  soql?: string;
  body?: unknown;
  referenceId: string;
  /** What the subrequest finally answered (after any rollback). */
  status: number;
}

/** A request as it acted on the org: a REST request, or one subrequest of a `/composite` call. */
export interface SandboxOperation {
  method: string;
  path: string;
  soql?: string;
  body?: unknown;
  status: number;
  /** Set for a subrequest: the referenceId it had in its composite call. */
  referenceId?: string;
}

/**
 * A logged request as operations: itself, or the subrequests of a composite call (those whose path contains `part`).
 *
 * @example
 * operationsOf(sandbox.requests[0], '/sobjects/Task') // [{ method: 'POST', path: '/services/data/v62.0/sobjects/Task', status: 201, referenceId: 'task', … }]
 */
export function operationsOf(
  request: {
    method: string;
    path: string;
    soql?: string;
    body?: unknown;
    status: number;
    subrequests?: SandboxSubrequest[];
  },
  part: string,
): SandboxOperation[] {
  const steps: SandboxOperation[] = request.subrequests ?? [{ ...request }];
  return steps
    .filter((step) => step.path.includes(part))
    .map(({ method, path, soql, body, status, referenceId }) => ({
      method,
      path,
      status,
      ...(referenceId === undefined ? {} : { referenceId }),
      ...(soql === undefined ? {} : { soql }),
      ...(body === undefined ? {} : { body }),
    }));
}

/**
 * A request's method and path and, for a `/composite` call, those of each subrequest it carries (for fault matching).
 *
 * @example
 * carriedOperations('POST', '/services/data/v62.0/composite', body, origin)
 * // [{ method: 'POST', path: '…/composite' }, { method: 'POST', path: '…/sobjects/Lead' }, { method: 'POST', path: '…/sobjects/Task' }]
 */
export function carriedOperations(
  method: string,
  path: string,
  body: unknown,
  origin: string,
): { method: string; path: string }[] {
  const carried = method === 'POST' && /\/composite$/.test(path) ? (subrequestsOf(body) ?? []) : [];
  return [
    { method, path },
    ...carried.map((sub) => ({
      method: String(sub.method),
      path: new URL(String(sub.url ?? ''), origin).pathname,
    })),
  ];
}

export interface CompositeRunner {
  org: SandboxOrg;
  /** Runs one subrequest through the same routes as a REST request, errors as answers. */
  perform(method: string, url: URL, body: unknown): Answer;
  /** A `subrequest: true` fault meant for this subrequest, if one is due. */
  fault(method: string, path: string): SandboxFault | undefined;
  origin: string;
}

const MAX_SUBREQUESTS = 25;
const MAX_QUERIES = 5;
const ROLLED_BACK = 'The transaction was rolled back since another operation in the same transaction failed.';
const REFERENCE = /@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}/g;
const REFUSED_HEADERS = ['accept', 'authorization', 'content-type'];

/**
 * The subrequests of a composite body, or undefined when it is not one (for fault matching).
 *
 * @example
 * subrequestsOf({ compositeRequest: [{ method: 'GET', url: '/services/data/v62.0/query?q=…', referenceId: 'q0' }] })?.length // 1
 */
export function subrequestsOf(body: unknown): CompositeSubrequest[] | undefined {
  const list = (body as { compositeRequest?: unknown } | undefined)?.compositeRequest;
  return Array.isArray(list) ? (list as CompositeSubrequest[]) : undefined;
}

/**
 * Answers one composite request.
 *
 * @example
 * const { answer, log } = runComposite({ allOrNone: true, compositeRequest: [...] }, runner);
 */
export function runComposite(
  body: unknown,
  runner: CompositeRunner,
): { answer: Answer; log: SandboxSubrequest[] } {
  const request = (body ?? {}) as { allOrNone?: unknown; compositeRequest?: unknown };
  const subrequests = validate(request);
  const queries = subrequests.filter((sub) => /\/(query|queryAll)\b|\/composite\/sobjects\b/.test(sub.url));
  if (subrequests.length > MAX_SUBREQUESTS || queries.length > MAX_QUERIES)
    return {
      answer: {
        status: 200,
        body: {
          compositeResponse: [
            {
              body: [
                {
                  errorCode: 'LIMIT_EXCEEDED',
                  message:
                    subrequests.length > MAX_SUBREQUESTS
                      ? 'The request can’t contain more than 25 operations.'
                      : 'The request can’t contain more than 5 query or sObject Collections operations.',
                },
              ],
              httpHeaders: {},
              httpStatusCode: 400,
              referenceId: null,
            },
          ],
        },
      },
      log: [],
    };

  const allOrNone = request.allOrNone === true;
  const snapshot = allOrNone ? runner.org.snapshot() : undefined;
  const answers = new Map<string, unknown>();
  const results: SubrequestResult[] = [];
  const log: SandboxSubrequest[] = [];
  let failedAt = -1;
  for (const [index, sub] of subrequests.entries()) {
    if (allOrNone && failedAt >= 0) {
      results.push(halted(sub.referenceId, ROLLED_BACK));
      log.push({ method: sub.method, path: pathOf(sub.url), referenceId: sub.referenceId, status: 400 });
      continue;
    }
    const resolved = resolveReferences(sub, answers);
    const url = new URL(resolved.url, runner.origin);
    const path = url.pathname;
    const entry: SandboxSubrequest = { method: sub.method, path, referenceId: sub.referenceId, status: 0 };
    if (url.searchParams.has('q')) entry.soql = url.searchParams.get('q') ?? '';
    if (resolved.body !== undefined) entry.body = resolved.body;
    log.push(entry);
    let result: SubrequestResult;
    if (resolved.missing) {
      result = halted(sub.referenceId, resolved.missing);
    } else {
      const answer = answerOf(sub.method, url, path, forcedAllOrNone(resolved.body, allOrNone, path), runner);
      result = {
        body: answer.body ?? null,
        httpHeaders: headersOf(answer, path, sub.method),
        httpStatusCode: answer.status,
        referenceId: sub.referenceId,
      };
    }
    results.push(result);
    if (failed(result, allOrNone)) {
      if (failedAt < 0) failedAt = index;
    } else answers.set(sub.referenceId, result.body);
  }
  if (snapshot && failedAt >= 0) {
    runner.org.restore(snapshot);
    results.forEach((result, index) => {
      if (index !== failedAt) results[index] = halted(result.referenceId ?? '', ROLLED_BACK);
    });
  }
  results.forEach((result, index) => {
    log[index]!.status = result.httpStatusCode;
  });
  return { answer: { status: 200, body: { compositeResponse: results } }, log };
}

/** A malformed request is refused as a whole before anything runs (wording ours). */
function validate(request: { compositeRequest?: unknown }): CompositeSubrequest[] {
  const refuse = (message: string) =>
    new RequestError(400, [
      { errorCode: 'JSON_PARSER_ERROR', message: `Invalid composite request: ${message}` },
    ]);
  if (!Array.isArray(request.compositeRequest))
    throw refuse('compositeRequest is required and must be a list');
  const seen = new Set<string>();
  return request.compositeRequest.map((item, index) => {
    const sub = (item ?? {}) as Partial<CompositeSubrequest>;
    for (const key of ['method', 'url', 'referenceId'] as const)
      if (typeof sub[key] !== 'string' || sub[key] === '')
        throw refuse(`compositeRequest[${index}] has no ${key}`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_]*$/.test(sub.referenceId!))
      throw refuse(
        `referenceId '${sub.referenceId}' must start with a letter or a number and contain only letters, numbers and underscores`,
      );
    if (seen.has(sub.referenceId!)) throw refuse(`duplicate referenceId '${sub.referenceId}'`);
    seen.add(sub.referenceId!);
    const header = Object.keys(sub.httpHeaders ?? {}).find((name) =>
      REFUSED_HEADERS.includes(name.toLowerCase()),
    );
    if (header)
      throw refuse(
        `compositeRequest[${index}] sets ${header}, which subrequests inherit from the composite request`,
      );
    return sub as CompositeSubrequest;
  });
}

function answerOf(method: string, url: URL, path: string, body: unknown, runner: CompositeRunner): Answer {
  if (
    !/^\/services\/data\/v\d+\.\d\//.test(path) ||
    /\/composite\/?$|\/composite\/(batch|tree|graph)\b/.test(path)
  )
    return {
      status: 400,
      body: [
        {
          errorCode: 'INVALID_INPUT',
          message: `The composite request does not support the resource ${path}`,
        },
      ],
    };
  const fault = runner.fault(method, path);
  if (fault && !fault.afterEffect) return faultAnswer(fault);
  const answer = runner.perform(method, url, body);
  return fault ? faultAnswer(fault) : answer;
}

/** With allOrNone on the composite, its sObject Collections subrequests are all-or-none too. */
function forcedAllOrNone(body: unknown, allOrNone: boolean, path: string): unknown {
  if (!allOrNone || !/\/composite\/sobjects\b/.test(path) || !body || typeof body !== 'object') return body;
  return { ...(body as object), allOrNone: true };
}

function failed(result: SubrequestResult, allOrNone: boolean): boolean {
  if (result.httpStatusCode >= 300) return true;
  // A collection answers 200 with per-record outcomes; under allOrNone any failure is the transaction's.
  return (
    allOrNone &&
    Array.isArray(result.body) &&
    result.body.some((item) => (item as { success?: unknown })?.success === false)
  );
}

function halted(referenceId: string | null, message: string): SubrequestResult {
  return {
    body: [{ errorCode: 'PROCESSING_HALTED', message }],
    httpHeaders: {},
    httpStatusCode: 400,
    referenceId,
  };
}

function headersOf(answer: Answer, path: string, method: string): Record<string, string> {
  const id = (answer.body as { id?: unknown } | undefined)?.id;
  if (answer.status !== 201 || method !== 'POST' || typeof id !== 'string') return {};
  return { Location: `${path.replace(/\/$/, '')}/${id}` };
}

function pathOf(url: string): string {
  return url.split('?')[0]!;
}

/** Replaces `@{ref.path}` in the url and in the body's strings; names the first reference without a value. */
function resolveReferences(
  sub: CompositeSubrequest,
  answers: Map<string, unknown>,
): { url: string; body: unknown; missing?: string } {
  let missing: string | undefined;
  const replace = (text: string) =>
    text.replace(REFERENCE, (whole, ref: string, path: string) => {
      const value = valueAt(answers.get(ref), path);
      if (value === undefined || value === null || typeof value === 'object') {
        missing ??= `Invalid reference specified. No value for ${ref}${path} found in ${ref}.`;
        return whole;
      }
      return String(value);
    });
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, walk(inner)]));
    return value;
  };
  const url = replace(sub.url);
  const body = walk(sub.body);
  return missing ? { url, body, missing } : { url, body };
}

function valueAt(root: unknown, path: string): unknown {
  let current = root;
  for (const step of path.match(/\.[A-Za-z0-9_]+|\[\d+\]/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    current = step.startsWith('[')
      ? (current as unknown[])[Number(step.slice(1, -1))]
      : (current as Record<string, unknown>)[step.slice(1)];
  }
  return current;
}
