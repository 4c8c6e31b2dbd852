/**
 * Fault injection, the same for every sandbox: `failNext` queues faults for
 * the next matching requests, `failRandomly` fails a share of requests with a
 * fault picked at random among those that fit, and `injected` counts what was
 * injected by kind. A sandbox says what "fits a request" and how a fault is
 * named; what the fault then does to the answer is the sandbox's own.
 *
 * @example
 * const faults = new FaultInjector<MyFault>((fault) => fault.kind ?? `${fault.status}`);
 * faults.queue(2, { status: 503 });
 * const fault = faults.take((f) => !f.path || path.includes(f.path));
 */
export class FaultInjector<F> {
  /** Faults injected so far (queued and random), by kind. */
  readonly injected = new Map<string, number>();
  private readonly queued: F[] = [];
  private rate = 0;
  private candidates: F[] = [];

  constructor(
    private readonly kindOf: (fault: F) => string,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next `count` requests that `fault` fits get it. */
  queue(count: number, fault: F): void {
    for (let i = 0; i < count; i++) this.queued.push(fault);
  }

  /** From now on each request fails with probability `rate`, with one of `faults` that fits it; 0 stops. */
  setRandom(rate: number, faults: F[]): void {
    this.rate = rate;
    this.candidates = faults;
  }

  /**
   * The fault for this request, counted, or undefined: the first queued one
   * that `fits`, else (at the random rate) one of the random faults that
   * `randomFits` (default: `fits`).
   */
  take(fits: (fault: F) => boolean, randomFits: (fault: F) => boolean = fits): F | undefined {
    const index = this.queued.findIndex(fits);
    const fault = index >= 0 ? this.queued.splice(index, 1)[0] : this.pickRandom(randomFits);
    if (fault !== undefined) {
      const kind = this.kindOf(fault);
      this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
    }
    return fault;
  }

  private pickRandom(fits: (fault: F) => boolean): F | undefined {
    if (this.rate <= 0 || this.random() >= this.rate) return undefined;
    const candidates = this.candidates.filter(fits);
    return candidates.length === 0 ? undefined : candidates[Math.floor(this.random() * candidates.length)];
  }
}
