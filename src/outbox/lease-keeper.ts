import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import type { Logger } from '../util/logger.ts';
import { renewLeases } from './renew-leases.ts';

/**
 * The deliveries one worker is performing right now, and the timer that keeps
 * their leases alive while it does (see renew-leases.ts for why). Rows are
 * held from their claim until their outcome is recorded.
 */
export class LeaseKeeper {
  private readonly held = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly options: {
      db: Kysely<Tables>;
      owner: string;
      logger: Logger;
      now: () => number;
      /** Read at every renewal, so a reloaded `delivery.lease` takes effect. */
      leaseMs: () => number;
    },
  ) {}

  hold(connector: string, ids: readonly number[]): void {
    for (const id of ids) this.held.set(id, connector);
    this.schedule();
  }

  release(ids: readonly number[]): void {
    for (const id of ids) this.held.delete(id);
  }

  /** Ids of this connector's rows in flight here: a claim must never start them a second time. */
  heldFor(connector: string): number[] {
    const ids: number[] = [];
    for (const [id, name] of this.held) if (name === connector) ids.push(id);
    return ids;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
    await this.renewing;
  }

  private schedule(): void {
    if (this.timer || this.held.size === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.renewing = this.renew().finally(() => {
          this.renewing = undefined;
          this.schedule();
        });
      },
      Math.max(50, Math.floor(this.options.leaseMs() / 3)),
    );
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const ids = [...this.held.keys()];
    if (ids.length === 0) return;
    try {
      const kept = await renewLeases(this.options.db, {
        owner: this.options.owner,
        ids,
        now: this.options.now(),
        leaseMs: this.options.leaseMs(),
      });
      const lost = ids.filter((id) => !kept.has(id) && this.held.has(id));
      if (lost.length > 0)
        this.options.logger.warn(
          { deliveries: lost },
          'lease taken over while the delivery was still running (this worker stalled for longer than the lease)',
        );
    } catch (error) {
      // The next renewal tries again; only a whole lease without one lets another worker in.
      this.options.logger.error({ err: error }, 'could not renew delivery leases; will retry');
    }
  }
}
