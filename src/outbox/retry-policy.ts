/**
 * When to try a failed delivery again. `schedule[k]` is the delay before
 * attempt k+1 (so `schedule[0]` is the first attempt's, usually 0s). Each
 * delay is jittered ±20% so that a burst of failures does not come back as a
 * burst of retries. A destination's own `Retry-After` wins when it asks for
 * longer than the schedule would wait.
 *
 * @example
 * nextRetryDelay({ attemptsMade: 1, schedule: [0, 10_000, 60_000] }) // 8_000…12_000
 * nextRetryDelay({ attemptsMade: 3, schedule: [0, 10_000, 60_000] }) // undefined: give up
 */
export function nextRetryDelay(options: {
  /** Attempts made so far, including the one that just failed. */
  attemptsMade: number;
  schedule: readonly number[];
  retryAfterMs?: number | undefined;
  random?: () => number;
}): number | undefined {
  const planned = options.schedule[options.attemptsMade];
  if (planned === undefined) return undefined;
  const random = options.random ?? Math.random;
  const jittered = Math.round(planned * (0.8 + 0.4 * random()));
  return Math.max(jittered, options.retryAfterMs ?? 0);
}
