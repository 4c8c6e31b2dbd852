/**
 * One connector's health as the worker sees it: how long every attempt has
 * been failing (retryably: the destination is down, slow or refusing for now),
 * and the circuit breaker. After `after_failing_for` of nothing but failures
 * the breaker opens: deliveries are held back except one probe every
 * `probe_interval`; the first success closes it. The worker logs, alerts and
 * counts from what these methods return.
 */
export class ConnectorHealth {
  /** When the current run of retryable failures began; undefined after a success. */
  failingSince: number | undefined;
  failures = 0;
  breakerOpen = false;
  nextProbeAt = 0;

  /** A success: returns what ended (a failure run, an open breaker), for the recovery log and alert. */
  succeeded(): {
    wasFailing: boolean;
    breakerClosed: boolean;
    failingSince: number | undefined;
    failures: number;
  } {
    const ended = {
      wasFailing: this.failingSince !== undefined,
      breakerClosed: this.breakerOpen,
      failingSince: this.failingSince,
      failures: this.failures,
    };
    this.failingSince = undefined;
    this.failures = 0;
    this.breakerOpen = false;
    return ended;
  }

  /** A retryable failure; true when it opened the breaker. */
  failed(
    now: number,
    breaker: { enabled: boolean; after_failing_for: number; probe_interval: number },
  ): boolean {
    this.failingSince ??= now;
    this.failures++;
    if (this.breakerOpen) {
      this.nextProbeAt = now + breaker.probe_interval;
      return false;
    }
    if (!breaker.enabled || now - this.failingSince < breaker.after_failing_for) return false;
    this.breakerOpen = true;
    this.nextProbeAt = now + breaker.probe_interval;
    return true;
  }

  /** With the breaker open: whether a probe may go now (none in flight, its time has come). */
  mayProbe(now: number, inflight: number): boolean {
    return inflight === 0 && now >= this.nextProbeAt;
  }

  probeStarted(now: number, probeInterval: number): void {
    this.nextProbeAt = now + probeInterval;
  }
}
