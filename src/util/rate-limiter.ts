/**
 * A sliding-window limit of `requests` per `perMs`, as destinations publish
 * theirs ("100 requests per 10 seconds"). The worker asks how many requests
 * may start now before it claims rows, so it never leases rows it could not
 * send. `pauseUntil` holds everything back after a 429 said to wait.
 */
export class RateLimiter {
  private readonly sent: number[] = [];
  private pausedUntil = 0;

  constructor(
    private readonly limit: { requests: number; perMs: number } | undefined,
    private readonly now: () => number,
  ) {}

  /** How many requests may start right now. */
  available(): number {
    const now = this.now();
    if (now < this.pausedUntil) return 0;
    if (!this.limit) return Number.POSITIVE_INFINITY;
    this.forget(now);
    return Math.max(0, this.limit.requests - this.sent.length);
  }

  take(count = 1): void {
    const now = this.now();
    for (let i = 0; i < count; i++) this.sent.push(now);
  }

  pauseUntil(time: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, time);
  }

  /** When the next request could start (now, if one can). */
  nextFreeAt(): number {
    const now = this.now();
    if (now < this.pausedUntil) return this.pausedUntil;
    if (!this.limit) return now;
    this.forget(now);
    if (this.sent.length < this.limit.requests) return now;
    return this.sent[0]! + this.limit.perMs;
  }

  private forget(now: number): void {
    if (!this.limit) return;
    while (this.sent.length > 0 && this.sent[0]! <= now - this.limit.perMs) this.sent.shift();
  }
}

/**
 * This worker's part of a rate limit that `workers` processes share: 100 per
 * 10 s across 3 becomes 33 per 10 s each; 1 per 10 s across 3 becomes 1 per 30 s.
 */
export function shareRate(
  rate: { requests: number; perMs: number } | undefined,
  workers: number,
): { requests: number; perMs: number } | undefined {
  if (!rate || workers <= 1) return rate;
  if (rate.requests >= workers) return { requests: Math.floor(rate.requests / workers), perMs: rate.perMs };
  return { requests: 1, perMs: Math.ceil((rate.perMs * workers) / rate.requests) };
}
