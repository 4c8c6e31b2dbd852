import { DeliveryError, isDeliveryError } from '../../connectors/errors.ts';
import type { DeliveryResult } from '../../connectors/types.ts';
import type { AttemptRecord, FinishItem } from './finish-delivery.ts';
import { nextRetryDelay } from './retry-policy.ts';

/** What one attempt's outcome means for its delivery, before anything is written or logged. */
export interface Decision {
  item: FinishItem;
  /** The error, when the attempt failed (anything a connector threw becomes a retryable one). */
  error: DeliveryError | undefined;
  /** Milliseconds until the retry, when there is one. */
  retryInMs: number | undefined;
}

/**
 * Decides a delivery's next state from what its connector returned or threw:
 * delivered; pending again after the retry schedule (or the destination's
 * Retry-After, when longer); or dead, because the error is permanent or the
 * schedule is used up. An error that says nothing was sent (`notSent`) waits
 * like a retry but never uses up the schedule, and gives its attempt back.
 * Pure: the worker records, logs and alerts from the decision.
 *
 * @example
 * decideOutcome({ id: 7, attempts: 1 }, new RetryableError('503'), { startedAt: 0, durationMs: 5, requestSummary: 'POST …' }, { schedule: [0, 10_000], now: 0, random: () => 0.5 })
 * // → item.finish = { status: 'pending', nextAttemptAt: 10_000, error: '503' }
 */
export function decideOutcome(
  row: { id: number; attempts: number },
  outcome: unknown,
  timing: { startedAt: number; durationMs: number; requestSummary: string },
  policy: { schedule: readonly number[]; now: number; random: () => number },
): Decision {
  const attempt: AttemptRecord = {
    startedAt: timing.startedAt,
    durationMs: timing.durationMs,
    outcome: 'delivered',
    requestSummary: timing.requestSummary,
  };
  if (!(outcome instanceof Error) && isResult(outcome)) {
    attempt.statusCode = outcome.statusCode;
    attempt.responseSummary = outcome.summary;
    return {
      item: { id: row.id, finish: { status: 'delivered', result: outcome.data }, attempt },
      error: undefined,
      retryInMs: undefined,
    };
  }
  const error = isDeliveryError(outcome)
    ? outcome
    : new DeliveryError(outcome instanceof Error ? outcome.message : String(outcome), { retryable: true });
  attempt.statusCode = error.statusCode;
  attempt.error = error.message;
  attempt.responseSummary = error.response;
  const { schedule } = policy;
  // Held back without being sent: wait as this attempt's retry would, but never give up for it.
  const uncounted = error.retryable && error.notSent;
  const delay = error.retryable
    ? nextRetryDelay({
        attemptsMade: uncounted ? Math.min(row.attempts, schedule.length - 1) : row.attempts,
        schedule,
        retryAfterMs: error.retryAfterMs,
        random: policy.random,
      })
    : undefined;
  if (delay === undefined) {
    attempt.outcome = 'dead';
    const message = error.retryable
      ? `gave up after ${row.attempts} attempts: ${error.message}`
      : error.message;
    return {
      item: {
        id: row.id,
        finish: { status: 'dead', error: message },
        attempt,
        ...(uncounted ? { uncounted } : {}),
      },
      error,
      retryInMs: undefined,
    };
  }
  attempt.outcome = 'retry';
  return {
    item: {
      id: row.id,
      finish: { status: 'pending', nextAttemptAt: policy.now + delay, error: error.message },
      attempt,
      ...(uncounted ? { uncounted } : {}),
    },
    error,
    retryInMs: delay,
  };
}

function isResult(value: unknown): value is DeliveryResult {
  return typeof value === 'object' && value !== null && typeof (value as DeliveryResult).summary === 'string';
}
