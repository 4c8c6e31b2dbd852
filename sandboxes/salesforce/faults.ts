import type { Answer } from './errors.ts';

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
  /**
   * Which request gets it; default: any REST API (`/services/data/…`) request.
   * A `/composite` call fits when one of its subrequests does.
   */
  match?: { method?: string; path?: string | RegExp };
  /**
   * Answer a matching subrequest of a `/composite` call with this fault's
   * status and error (inside the composite response, under its allOrNone
   * rules) instead of failing an HTTP request; `afterEffect` performs the
   * subrequest first. Delays and resets do not apply to subrequests.
   */
  subrequest?: boolean;
  /** How `injected` counts it (default: from the fields, e.g. `503 SERVER_UNAVAILABLE`, `reset`). */
  kind?: string;
}

/** Whether `fault` is meant for this request. */
export function faultMatches(fault: SandboxFault, method: string, path: string): boolean {
  const match = fault.match ?? {};
  if (match.method && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return path.startsWith('/services/data/');
  return typeof match.path === 'string' ? path.includes(match.path) : match.path.test(path);
}

/** How a fault is counted: `503 SERVER_UNAVAILABLE`, `reset`, `slow 200 ms`, `performed, then connection dropped`… */
export function faultKind(fault: SandboxFault): string {
  if (fault.kind) return fault.kind;
  if (fault.subrequest) return `subrequest ${faultAnswer(fault).status} ${fault.errorCode ?? 'error'}`;
  const delay = fault.delayMs ? ` after ${fault.delayMs} ms` : '';
  const answers = fault.status !== undefined || fault.errorCode !== undefined || fault.body !== undefined;
  const answer = answers
    ? [faultAnswer(fault).status, fault.errorCode ?? (fault.body === undefined ? undefined : 'raw body')]
        .filter((part) => part !== undefined)
        .join(' ')
    : undefined;
  if (fault.afterEffect) {
    if (fault.reset) return `performed, then connection dropped${delay}`;
    return answer ? `performed, then ${answer}${delay}` : `performed, answer${delay || ' as usual'}`;
  }
  if (fault.reset) return `reset${delay}`;
  return answer ? `${answer}${delay}` : `slow ${fault.delayMs ?? 0} ms`;
}

export function faultAnswer(fault: SandboxFault): Answer {
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
