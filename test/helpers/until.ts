/**
 * Polls `condition` until it holds, failing with `what` after `timeoutMs`.
 * The default is generous on purpose: on a loaded two-core machine a child
 * process takes seconds to start, and a test that only failed for being slow
 * is a flaky test.
 */
export async function until(
  condition: () => Promise<boolean> | boolean,
  what = 'condition',
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits until `remaining` reaches 0, for as long as it keeps going down: a
 * loaded machine is slower, not stuck, so the failure is "no progress for
 * `stallMs`", not a budget tuned to a quiet machine.
 */
export async function untilDrained(
  remaining: () => Promise<number> | number,
  what = 'work',
  stallMs = 60_000,
): Promise<void> {
  let lowest = Number.POSITIVE_INFINITY;
  let progressAt = Date.now();
  for (;;) {
    const left = await remaining();
    if (left <= 0) return;
    if (left < lowest) {
      lowest = left;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > stallMs)
      throw new Error(`${what}: ${left} left, no progress for ${stallMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
