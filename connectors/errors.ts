const BRAND = Symbol.for('leadrelay.DeliveryError');

/**
 * A {@link DeliveryError} from any copy of this module. `instanceof` is not
 * enough: a third-party connector may load `leadrelay/connector` from the
 * sources while leadrelay runs compiled (dist/), and its PermanentError must
 * still be read as permanent, not as an unknown error to retry.
 */
export function isDeliveryError(value: unknown): value is DeliveryError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/**
 * How a delivery failed, and whether trying again can help. Connectors throw
 * these (or return them per item from a batch); the delivery engine decides
 * retries from `retryable` and `retryAfterMs` alone.
 */
export class DeliveryError extends Error {
  /** Marks every copy of this class: see {@link isDeliveryError}. */
  readonly [BRAND] = true;
  override name = 'DeliveryError';
  readonly retryable: boolean;
  /** The destination asked for this wait (Retry-After, a rate-limit window). */
  readonly retryAfterMs: number | undefined;
  readonly statusCode: number | undefined;
  /** A short excerpt of the destination's response, for the admin's timeline. */
  readonly response: string | undefined;
  /**
   * Nothing was sent for this delivery: it was held back, e.g. behind an
   * earlier message to the same channel that failed, to keep them in order.
   * The engine retries it without counting an attempt, so waiting behind
   * others never uses up a delivery's own retries.
   */
  readonly notSent: boolean;

  constructor(
    message: string,
    options: {
      retryable: boolean;
      retryAfterMs?: number;
      statusCode?: number;
      response?: string;
      notSent?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.statusCode = options.statusCode;
    this.response = options.response;
    this.notSent = options.notSent ?? false;
  }
}

/** Timeouts, resets, 5xx, 429: the same request may succeed later. */
export class RetryableError extends DeliveryError {
  override name = 'RetryableError';
  constructor(
    message: string,
    options: Omit<ConstructorParameters<typeof DeliveryError>[1], 'retryable'> = {},
  ) {
    super(message, { ...options, retryable: true });
  }
}

/** Validation, authentication, not found: retrying the same request cannot succeed. */
export class PermanentError extends DeliveryError {
  override name = 'PermanentError';
  constructor(
    message: string,
    options: Omit<ConstructorParameters<typeof DeliveryError>[1], 'retryable'> = {},
  ) {
    super(message, { ...options, retryable: false });
  }
}

/** 408, 409, 425, 429 and 5xx can succeed on retry; every other 4xx cannot. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/**
 * Milliseconds from a `Retry-After` header: delta-seconds or an HTTP date.
 *
 * @example
 * parseRetryAfter('10') // 10_000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
