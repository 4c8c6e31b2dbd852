import type { Connector } from '../../connectors/types.ts';
import { RateLimiter, shareRate } from '../util/rate-limiter.ts';
import { ConnectorHealth } from './connector-health.ts';

/** One connector as this worker sees it: deliveries in flight, its rate budget, its health. */
export interface ConnectorSlots {
  inflight: number;
  limiter: RateLimiter;
  /** The rate this limiter was built for; a reload (or another share) with another rate starts a new one. */
  limitKey: string;
  health: ConnectorHealth;
}

/**
 * How much each connector may take now: free concurrency, this worker's
 * share of the connector's rate limit, and — while its circuit breaker is
 * open — one probe at a time. Kept by connector name, so it outlives the
 * connector objects a reload replaces: a reload never resets a rate budget
 * or forgets that a destination is failing.
 */
export class ConnectorCapacity {
  private readonly byName = new Map<string, ConnectorSlots>();

  constructor(
    private readonly now: () => number,
    /** How many workers share each connector's rate limit (docs/scaling.md). */
    private readonly rateShare: () => number = () => 1,
  ) {}

  of(connector: Connector): ConnectorSlots {
    const rate = shareRate(connector.limits.rate, this.rateShare());
    const limitKey = JSON.stringify(rate ?? null);
    let slots = this.byName.get(connector.name);
    if (!slots || slots.limitKey !== limitKey) {
      slots = {
        health: slots?.health ?? new ConnectorHealth(),
        inflight: slots?.inflight ?? 0,
        limiter: new RateLimiter(rate, this.now),
        limitKey,
      };
      this.byName.set(connector.name, slots);
    }
    return slots;
  }

  /**
   * What may start now: `calls` deliveries (or batches) of `batchSize`
   * events; a single probe of one event while the breaker is open and a
   * probe is due; nothing otherwise.
   */
  grant(connector: Connector): { calls: number; batchSize: number; probe: boolean } {
    const slots = this.of(connector);
    const calls = Math.min(connector.limits.concurrency - slots.inflight, slots.limiter.available());
    const batchSize = connector.deliverBatch ? Math.max(1, connector.limits.batchSize) : 1;
    if (!slots.health.breakerOpen) return { calls: Math.max(0, calls), batchSize, probe: false };
    // One probe at a time, every probe_interval, until one succeeds.
    if (!slots.health.mayProbe(this.now(), slots.inflight)) return { calls: 0, batchSize: 1, probe: true };
    return { calls: Math.max(0, Math.min(calls, 1)), batchSize: 1, probe: true };
  }

  /** Deliveries in flight across all connectors. */
  get inflight(): number {
    let total = 0;
    for (const slots of this.byName.values()) total += slots.inflight;
    return total;
  }

  /**
   * When this worker should look again for capacity's sake, within `delay`:
   * the next probe of a connector held back by its breaker, the next free
   * slot of an exhausted rate budget. `held` names the connectors whose due
   * rows must not wake the worker (they wait for their probe instead).
   */
  nextLook(delay: number): { delay: number; held: Set<string> } {
    const now = this.now();
    const held = new Set<string>();
    for (const [name, slots] of this.byName) {
      if (slots.limiter.available() === 0)
        delay = Math.min(delay, Math.max(1, slots.limiter.nextFreeAt() - now));
      if (!slots.health.breakerOpen) continue;
      const untilProbe = slots.health.nextProbeAt - now;
      // A probe in flight wakes the worker when it finishes; a probe that is
      // due waits for a due row like any connector.
      if (slots.inflight === 0 && untilProbe <= 0) continue;
      held.add(name);
      if (untilProbe > 0) delay = Math.min(delay, untilProbe);
    }
    return { delay, held };
  }
}
