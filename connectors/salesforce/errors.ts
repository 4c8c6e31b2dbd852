import { DeliveryError, PermanentError, parseRetryAfter, RetryableError } from '../errors.ts';
import { transportFailure } from '../transport-failure.ts';

/**
 * One error as Salesforce reports it: `errorCode` in REST answers
 * (`[{ message, errorCode, fields }]`), `statusCode` in sObject Collections
 * results. Duplicate rules add the matching records, under `duplicateResut`
 * (sic, in REST answers of many API versions) or `duplicateResult`.
 */
export interface SalesforceError {
  errorCode?: string;
  statusCode?: string;
  message?: string;
  fields?: string[];
  duplicateResut?: DuplicateResult;
  duplicateResult?: DuplicateResult;
}

interface DuplicateResult {
  duplicateRule?: string;
  matchResults?: {
    entityType?: string;
    matchRecords?: { record?: { Id?: string; attributes?: { type?: string } } }[];
  }[];
}

/** What the last HTTP answer was, as seen by our instrumented transport. */
export interface HttpProbe {
  status: number | undefined;
  headers: Record<string, string> | undefined;
}

/** Codes that say "not now" rather than "never". */
const RETRYABLE_CODES = new Set([
  'REQUEST_LIMIT_EXCEEDED',
  'UNABLE_TO_LOCK_ROW',
  'SERVER_UNAVAILABLE',
  'UNKNOWN_EXCEPTION',
  'QUERY_TIMEOUT',
  // The record was deleted, or the Lead converted, after the look-up read it: the next
  // attempt's look-up sees that and finds the Contact, or another record (resolve-record.ts).
  'ENTITY_IS_DELETED',
  'CANNOT_UPDATE_CONVERTED_LEAD',
  'ALL_OR_NONE_OPERATION_ROLLED_BACK',
]);

/** The daily API budget: capacity frees up as the rolling 24 hours move on, so wait a while. */
const DAILY_LIMIT_WAIT_MS = 10 * 60_000;
/** Too many concurrent long requests: a short wait is enough. */
const CONCURRENCY_LIMIT_WAIT_MS = 30_000;

export function codeOf(error: SalesforceError): string {
  return error.errorCode ?? error.statusCode ?? 'UNKNOWN_ERROR';
}

/**
 * `REQUIRED_FIELD_MISSING: Required fields are missing: [Company] (fields: Company)`,
 * with the records a duplicate rule matched.
 */
export function describeError(error: SalesforceError): string {
  const code = codeOf(error);
  let text = `${code}: ${error.message ?? ''}`.trim();
  if (error.fields && error.fields.length > 0) text += ` (fields: ${error.fields.join(', ')})`;
  const duplicates = error.duplicateResut ?? error.duplicateResult;
  const matches = (duplicates?.matchResults ?? []).flatMap((result) =>
    (result.matchRecords ?? []).map(
      (match) =>
        `${match.record?.attributes?.type ?? result.entityType ?? 'record'} ${match.record?.Id ?? '?'}`,
    ),
  );
  if (matches.length > 0)
    text += ` (duplicate rule ${duplicates?.duplicateRule ?? '?'} matches ${matches.join(', ')})`;
  return text;
}

/**
 * Salesforce's per-record errors as one DeliveryError: permanent unless
 * every error is one that can pass (row locks, limits, outages).
 */
export function recordErrors(
  what: string,
  errors: SalesforceError[],
  options: { status?: number | undefined; headers?: Record<string, string> | undefined; now?: number } = {},
): DeliveryError {
  const list = errors.length > 0 ? errors : [{ errorCode: 'UNKNOWN_ERROR', message: 'no detail given' }];
  const message = `Salesforce rejected ${what}: ${list.map(describeError).join('; ')}`;
  const status = options.status;
  const retryable =
    (status !== undefined && (status >= 500 || status === 429 || status === 420 || status === 408)) ||
    list.every(
      (error) => RETRYABLE_CODES.has(codeOf(error)) || /^ERROR_HTTP_(5\d\d|429|420|408)$/.test(codeOf(error)),
    );
  const response = JSON.stringify(errors).slice(0, 500);
  const limited = list.find((error) => codeOf(error) === 'REQUEST_LIMIT_EXCEEDED');
  const retryAfterMs = limited
    ? (parseRetryAfter(options.headers?.['retry-after'], options.now) ??
      (/TotalRequests/i.test(limited.message ?? '') ? DAILY_LIMIT_WAIT_MS : CONCURRENCY_LIMIT_WAIT_MS))
    : parseRetryAfter(options.headers?.['retry-after'], options.now);
  const details = {
    ...(status === undefined ? {} : { statusCode: status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    response,
  };
  return retryable ? new RetryableError(message, details) : new PermanentError(message, details);
}

/** jsforce's HttpApiError: `errorCode` and the parsed answer in `data`. */
interface HttpApiErrorLike {
  name?: string;
  message?: string;
  errorCode?: string;
  data?: unknown;
  code?: string;
}

export function errorCodeOf(error: unknown): string | undefined {
  return (error as HttpApiErrorLike | undefined)?.errorCode;
}

/**
 * Anything a jsforce call threw, as a DeliveryError: Salesforce's error
 * arrays field by field, timeouts and network failures as retryable.
 */
export function callError(
  error: unknown,
  what: string,
  options: { probe: HttpProbe; host: string; timeoutMs: number; now: number },
): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const e = (error ?? {}) as HttpApiErrorLike;
  const failure = transportFailure(error);
  if (failure?.kind === 'timeout')
    return new RetryableError(`Salesforce did not answer ${what} within ${options.timeoutMs} ms`, {
      cause: error,
    });
  if (failure)
    return new RetryableError(`could not reach ${options.host} (${what}): ${failure.reason}`, {
      cause: error,
    });
  if (typeof e.errorCode === 'string') {
    const status = options.probe.status;
    let errors: SalesforceError[];
    if (e.errorCode === 'MULTIPLE_API_ERRORS' && Array.isArray(e.data)) errors = e.data as SalesforceError[];
    else if (e.data && typeof e.data === 'object' && !Array.isArray(e.data))
      errors = [{ ...(e.data as SalesforceError), errorCode: e.errorCode }];
    // A gateway's HTML page: jsforce puts the page in `data` and advice of its own in `message`.
    else
      errors = [
        {
          errorCode: e.errorCode,
          message: htmlFree(typeof e.data === 'string' ? e.data : (e.message ?? '')),
        },
      ];
    return recordErrors(what, errors, { status, headers: options.probe.headers, now: options.now });
  }
  return new RetryableError(`${what} failed: ${e.message ?? String(error)}`, { cause: error });
}

/** Gateways answer 5xx with HTML; keep the admin's timeline readable. */
function htmlFree(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/**
 * An OAuth token endpoint failure (`{ error, error_description }`, which
 * jsforce throws as an Error named after `error`).
 */
export function tokenError(
  error: unknown,
  options: { probe: HttpProbe; tokenUrl: string; timeoutMs: number; now: number },
): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const e = (error ?? {}) as HttpApiErrorLike;
  const host = new URL(options.tokenUrl).host;
  if (transportFailure(error))
    return callError(error, 'the token request', {
      probe: options.probe,
      host,
      timeoutMs: options.timeoutMs,
      now: options.now,
    });
  const status = options.probe.status;
  const message = `Salesforce refused to issue an access token (${e.name ?? 'error'}: ${htmlFree(e.message ?? '')}) at ${options.tokenUrl}`;
  const details = {
    ...(status === undefined ? {} : { statusCode: status }),
    retryAfterMs: parseRetryAfter(options.probe.headers?.['retry-after'], options.now),
  };
  const transient =
    (status !== undefined && (status >= 500 || status === 429)) ||
    /^(server_error|temporarily_unavailable|ERROR_HTTP_5\d\d)$/.test(e.name ?? '');
  return transient ? new RetryableError(message, details) : new PermanentError(message, details);
}
