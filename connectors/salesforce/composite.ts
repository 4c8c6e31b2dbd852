import type { Connection } from 'jsforce';
import { type DeliveryError, RetryableError } from '../errors.ts';
import { codeOf, recordErrors, type SalesforceError } from './errors.ts';
import type { SalesforceSettings } from './settings.ts';

/*
 * Salesforce's Composite resource (`POST /services/data/vXX.X/composite`,
 * REST API Developer Guide, "Send Multiple Requests Using Composite"): up to
 * 25 subrequests, at most 5 of them queries, in ONE API call against the
 * org's daily allowance. A later subrequest can use an earlier answer with
 * `@{referenceId.id}`. With `allOrNone: true` the subrequests are one
 * transaction: the one that failed keeps its error and every other answers
 * 400 PROCESSING_HALTED ("The transaction was rolled back since another
 * operation in the same transaction failed."). The call itself answers 200
 * unless it is refused as a whole (session, limits, outage), which jsforce
 * throws like any failed call.
 */

/** Subrequests that are queries (Salesforce allows 5 per composite call). */
export const MAX_COMPOSITE_QUERIES = 5;

export interface Subrequest {
  method: 'GET' | 'POST' | 'PATCH';
  /** From the instance root: `/services/data/v62.0/sobjects/Lead`. */
  url: string;
  /** Letters, digits and underscores; `@{referenceId.id}` refers to its answer. */
  referenceId: string;
  body?: Record<string, unknown>;
}

/** One subrequest's answer ("Composite Subrequest Result"). */
export interface SubrequestResult {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string | null;
}

/**
 * The path of a REST resource as a subrequest names it (relative to the instance).
 *
 * @example
 * subrequestUrl(settings, '/sobjects/Lead') // '/services/data/v62.0/sobjects/Lead'
 */
export function subrequestUrl(settings: SalesforceSettings, path: string): string {
  return `/services/data/v${settings.api_version}${path}`;
}

/**
 * `@{referenceId.field}`: a value from an earlier subrequest's answer.
 *
 * @example
 * reference('record') // '@{record.id}'
 */
export function reference(referenceId: string, path = 'id'): string {
  return `@{${referenceId}.${path}}`;
}

/**
 * The body a composite call sends, exactly (preview shows the same).
 *
 * @example
 * compositeBody(true, [recordSubrequest, taskSubrequest]) // { allOrNone: true, compositeRequest: [...] }
 */
export function compositeBody(allOrNone: boolean, subrequests: Subrequest[]) {
  return { allOrNone, compositeRequest: subrequests };
}

/**
 * Sends one composite call and returns each subrequest's answer by its
 * referenceId. A refusal of the whole call (the 25-operation limit) is
 * thrown as a DeliveryError naming Salesforce's reason (LIMIT_EXCEEDED:
 * permanent, as the same call would be refused again).
 *
 * @example
 * const answers = await sendComposite(conn, settings, 'the look-up of existing Leads', false, [
 *   { method: 'GET', url: subrequestUrl(settings, `/query?q=${encodeURIComponent(soql)}`), referenceId: 'lookupLead' },
 * ]);
 * answers.get('lookupLead')?.httpStatusCode // 200
 */
export async function sendComposite(
  conn: Connection,
  settings: SalesforceSettings,
  what: string,
  allOrNone: boolean,
  subrequests: Subrequest[],
): Promise<Map<string, SubrequestResult>> {
  const response = await conn.requestPost<{ compositeResponse?: SubrequestResult[] }>(
    subrequestUrl(settings, '/composite'),
    compositeBody(allOrNone, subrequests),
  );
  const results = Array.isArray(response?.compositeResponse) ? response.compositeResponse : [];
  const byReference = new Map<string, SubrequestResult>();
  for (const result of results) if (result.referenceId) byReference.set(result.referenceId, result);
  const unanswered = subrequests.filter((sub) => !byReference.has(sub.referenceId));
  if (unanswered.length > 0) {
    // Salesforce refuses a whole composite call (over 25 operations, over 5 queries) with one
    // result whose referenceId is null: the same call would be refused again.
    const refusal = results.find((result) => result.referenceId === null);
    if (refusal) throw subrequestError(what, refusal);
    throw new RetryableError(
      `Salesforce answered ${what} without ${unanswered.map((sub) => sub.referenceId).join(', ')}`,
      { response: JSON.stringify(response).slice(0, 500) },
    );
  }
  return byReference;
}

/**
 * A 2xx subrequest answer.
 *
 * @example
 * succeeded({ body: null, httpHeaders: {}, httpStatusCode: 204, referenceId: 'record' }) // true
 */
export function succeeded(result: SubrequestResult): boolean {
  return result.httpStatusCode >= 200 && result.httpStatusCode < 300;
}

/**
 * Salesforce's error list in a failed subrequest's body.
 *
 * @example
 * errorsOf(result) // [{ errorCode: 'REQUIRED_FIELD_MISSING', message: '…', fields: ['LastName'] }]
 */
export function errorsOf(result: SubrequestResult): SalesforceError[] {
  return Array.isArray(result.body)
    ? (result.body as SalesforceError[]).filter((e) => typeof e === 'object')
    : [];
}

/**
 * Halted for another subrequest's failure (rolled back, or a reference without a value): never a cause.
 *
 * @example
 * onlyHalted({ body: [{ errorCode: 'PROCESSING_HALTED', message: '…' }], httpHeaders: {}, httpStatusCode: 400, referenceId: 'record' }) // true
 */
export function onlyHalted(result: SubrequestResult): boolean {
  const errors = errorsOf(result);
  return errors.length > 0 && errors.every((error) => codeOf(error) === 'PROCESSING_HALTED');
}

/**
 * A failed subrequest as a DeliveryError, retryable or not by Salesforce's codes (see errors.ts).
 *
 * @example
 * subrequestError('the Task', result).message // 'Salesforce rejected the Task: UNABLE_TO_LOCK_ROW: …'
 */
export function subrequestError(what: string, result: SubrequestResult, now?: number): DeliveryError {
  return recordErrors(what, errorsOf(result), {
    status: result.httpStatusCode,
    headers: lowerCased(result.httpHeaders),
    ...(now === undefined ? {} : { now }),
  });
}

function lowerCased(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}
