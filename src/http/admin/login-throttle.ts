/**
 * Wrong admin tokens, counted per client address: after `maxFailures` within
 * `windowMs`, that address gets 429 until the oldest of them is out of the
 * window — for the login form and the API's Bearer token alike. A right
 * token clears the count. Guessing a 20-character random token is hopeless
 * anyway; this keeps a script from trying thousands a second, and keeps the
 * log readable. Per address only: a global lock would let anyone lock the
 * admin out.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => number,
    private readonly maxFailures = 10,
    private readonly windowMs = 5 * 60_000,
    /** Addresses remembered at most (the oldest are forgotten first). */
    private readonly maxClients = 10_000,
  ) {}

  /** Milliseconds until `client` may try again; 0 when it may now. */
  blockedFor(client: string): number {
    const recent = this.recent(client);
    if (recent.length < this.maxFailures) return 0;
    return Math.max(1, recent[recent.length - this.maxFailures]! + this.windowMs - this.now());
  }

  failed(client: string): void {
    const recent = this.recent(client);
    recent.push(this.now());
    this.failures.delete(client);
    this.failures.set(client, recent);
    if (this.failures.size > this.maxClients)
      this.failures.delete(this.failures.keys().next().value as string);
  }

  succeeded(client: string): void {
    this.failures.delete(client);
  }

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.failures.get(client) ?? []).filter((at) => at > since);
  }
}
