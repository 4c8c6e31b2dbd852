/**
 * Where an SDK puts a network failure or an HTTP status moves between its
 * majors and between Node's HTTP stacks: node-fetch throws a `FetchError` with
 * `code: 'ECONNRESET'`; Node's built-in fetch (HubSpot 14, jsforce 3.10.26 on
 * Node 22+) throws `TypeError: fetch failed` with an undici `SocketError`
 * (`code: 'UND_ERR_SOCKET'`) as its `cause`; the Slack SDK wraps axios'
 * error in `original`. Connectors classify through these two functions, which
 * look everywhere, so an SDK upgrade cannot turn a dropped connection into an
 * unexplained "fetch failed" or a 503 into a permanent failure.
 */

/** A request that got no HTTP answer: the destination may well answer a retry. */
export interface TransportFailure {
  kind: 'timeout' | 'network';
  /** For the admin's timeline, the same words whichever stack failed: "connection reset (UND_ERR_SOCKET)". */
  reason: string;
  /** The lowest-level code found (ECONNRESET, UND_ERR_SOCKET, ETIMEDOUT…), if any. */
  code: string | undefined;
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  original?: unknown;
  errors?: unknown;
  status?: unknown;
  statusCode?: unknown;
  response?: unknown;
  body?: unknown;
}

/** The error, then what it wraps (`cause`, `original`, an AggregateError's first error), outermost first. */
function chain(error: unknown): ErrorLike[] {
  const found: ErrorLike[] = [];
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && found.length < 8 && !found.includes(current)) {
    const e = current as ErrorLike;
    found.push(e);
    current =
      e.cause ?? e.original ?? (Array.isArray(e.errors) && e.errors.length > 0 ? e.errors[0] : undefined);
  }
  return found;
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED', // axios' code for its own timeout
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
]);

const WORDS: Record<string, string> = {
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection reset',
  UND_ERR_CLOSED: 'connection reset',
  EPIPE: 'connection reset',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'host unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out',
  UND_ERR_BODY_TIMEOUT: 'timed out',
  ETIMEDOUT: 'timed out',
  ESOCKETTIMEDOUT: 'timed out',
  ECONNABORTED: 'timed out',
  ABORT_ERR: 'timed out',
};

/** Node's errno names and undici's codes; an HTTP status in `code` (HubSpot's ApiException) is not one. */
const NETWORK_CODE = /^(E[A-Z_]{2,}|UND_ERR_[A-Z_]+|ABORT_ERR)$/;

/**
 * The network failure or timeout behind an SDK's error, wherever the SDK put
 * it; `undefined` when the error is something else (an HTTP answer, a bug).
 *
 * @example
 * transportFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }))
 * // { kind: 'network', reason: 'connection reset (UND_ERR_SOCKET)', code: 'UND_ERR_SOCKET' }
 */
export function transportFailure(error: unknown): TransportFailure | undefined {
  const errors = chain(error);
  if (errors.length === 0) return undefined;
  // An HTTP status anywhere means the destination answered: not a transport failure.
  if (httpStatusOf(error) !== undefined) return undefined;
  const codes = errors
    .map((e) => e.code)
    .filter((c): c is string => typeof c === 'string' && NETWORK_CODE.test(c));
  const code = codes.at(-1);
  const timedOut =
    errors.some((e) => e.name === 'TimeoutError' || e.name === 'AbortError') ||
    (code !== undefined && TIMEOUT_CODES.has(code));
  if (code !== undefined) {
    return {
      kind: timedOut ? 'timeout' : 'network',
      reason: `${WORDS[code] ?? 'network error'} (${code})`,
      code,
    };
  }
  if (timedOut) return { kind: 'timeout', reason: 'timed out', code: undefined };
  // Node's fetch without a cause we know, or node-fetch's FetchError without a code.
  const outer = errors[0]!;
  if (outer.name === 'FetchError' || (outer.name === 'TypeError' && outer.message === 'fetch failed')) {
    const innermost = errors.at(-1)!;
    return {
      kind: 'network',
      reason: typeof innermost.message === 'string' ? innermost.message : 'network error',
      code: undefined,
    };
  }
  return undefined;
}

function asStatus(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

/**
 * The HTTP status an SDK's error carries, wherever it keeps it: `code`
 * (HubSpot's ApiException), `status`, `statusCode`, `response.status`, a
 * `status` in a parsed body, or the same on a wrapped `cause`.
 *
 * @example
 * httpStatusOf({ code: 429, body: { category: 'RATE_LIMITS' } }) // 429
 */
export function httpStatusOf(error: unknown): number | undefined {
  for (const e of chain(error)) {
    const response = (typeof e.response === 'object' && e.response !== null ? e.response : {}) as ErrorLike;
    const body = (typeof e.body === 'object' && e.body !== null ? e.body : {}) as ErrorLike;
    const status =
      asStatus(e.code) ??
      asStatus(e.status) ??
      asStatus(e.statusCode) ??
      asStatus(response.status) ??
      asStatus(response.statusCode) ??
      asStatus(body.status) ??
      asStatus(body.statusCode);
    if (status !== undefined) return status;
  }
  return undefined;
}
