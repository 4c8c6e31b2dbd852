import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import { expireOrphanedLeases } from './expire-orphaned-leases.ts';

/** How often a worker writes its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 2000;
/** A worker unseen this long is dead: its leases are ended (expire-orphaned-leases.ts). */
export const DEAD_AFTER_MS = 8000;

/*
 * Design note. Each worker, on either database, writes a heartbeat row
 * (`workers`: id, last_seen on the database's clock) every 2 s. Two uses:
 *
 * Recovery. At each beat it also ends the leases of owners unseen for 8 s
 * (expire-orphaned-leases.ts) and wakes its worker to claim them, so the
 * deliveries of a SIGKILLed process are retried within about 10 s by a
 * sibling or by the process that replaced it, not after a whole lease.
 *
 * Sharing a destination's rate limit between processes. It counts the rows
 * seen within `windowMs` and runs each connector at rate / count (shareRate
 * in delivery-worker.ts). No request ever waits on a shared row, and a dead
 * worker stops counting after `windowMs`. The trade-offs: an idle worker
 * still holds its share (three workers, one busy → the busy one uses a third
 * of the budget), and for up to one interval after a worker joins, the others
 * still run at the old share (a bounded overshoot), while after one dies the
 * survivors run below the budget for up to `windowMs`. Destinations answer
 * 429 + Retry-After when we overshoot, which the worker honours.
 */
export class WorkerRegistry {
  private live = 1;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Database, 'db' | 'adapter'>,
    private readonly id: string,
    private readonly options: {
      intervalMs?: number;
      windowMs?: number;
      deadAfterMs?: number;
      /** The worker's clock, which its leases are written in. */
      now?: () => number;
      /** Leases of dead workers were ended now: claim them. */
      onOrphans?: (count: number) => void;
      /** A heartbeat could not be written (siblings will see this worker as dead after 8 s of these). */
      onBeatFailed?: (error: unknown) => void;
    } = {},
  ) {}

  /** Workers alive lately, this one included (at least 1). */
  get count(): number {
    return this.live;
  }

  /** Writes the first heartbeat (so the count is right before the first claim) and keeps beating. */
  async start(): Promise<void> {
    await this.beat().catch((error: unknown) => this.options.onBeatFailed?.(error));
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch((error: unknown) => this.options.onBeatFailed?.(error))
        .finally(() => {
          this.beating = undefined;
        });
    }, this.options.intervalMs ?? HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.store.db
      .deleteFrom('workers')
      .where('id', '=', this.id)
      .execute()
      .catch(() => {});
  }

  private async beat(): Promise<void> {
    const { db, adapter } = this.store;
    const clock = adapter.clockMs();
    await db
      .insertInto('workers')
      .values({ id: this.id, last_seen: clock })
      .onConflict((conflict) => conflict.column('id').doUpdateSet({ last_seen: clock }))
      .execute();
    const orphans = await expireOrphanedLeases(db, {
      self: this.id,
      now: (this.options.now ?? Date.now)(),
      unseenForMs: this.options.deadAfterMs ?? DEAD_AFTER_MS,
      clockMs: clock,
    });
    if (orphans > 0) this.options.onOrphans?.(orphans);
    const windowMs = this.options.windowMs ?? 15_000;
    const row = await db
      .selectFrom('workers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where(sql<boolean>`last_seen >= ${clock} - ${windowMs}`)
      .executeTakeFirstOrThrow();
    this.live = Math.max(1, Number(row.n));
    // Rows of workers that died long ago.
    await db.deleteFrom('workers').where(sql<boolean>`last_seen < ${clock} - ${3_600_000}`).execute();
  }
}
