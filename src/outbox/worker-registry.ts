import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';

/*
 * Design note. Sharing a destination's rate limit between processes. Each
 * worker writes a heartbeat row (`workers`: id, last_seen) every
 * `intervalMs` and counts the rows seen within `windowMs`; it then runs each
 * connector at rate / count (shareRate in delivery-worker.ts). No request
 * ever waits on a shared row, and a dead worker stops counting after
 * `windowMs`. The trade-offs: an idle worker still holds its share (three
 * workers, one busy → the busy one uses a third of the budget), and for up to
 * one interval after a worker joins, the others still run at the old share
 * (a bounded overshoot), while after one dies the survivors run below the
 * budget for up to `windowMs`. Destinations answer 429 + Retry-After when we
 * overshoot, which the worker honours.
 */
export class WorkerRegistry {
  private live = 1;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly id: string,
    private readonly options: { intervalMs?: number; windowMs?: number; now?: () => number } = {},
  ) {}

  /** Workers alive lately, this one included (at least 1). */
  get count(): number {
    return this.live;
  }

  /** Writes the first heartbeat (so the count is right before the first claim) and keeps beating. */
  async start(): Promise<void> {
    await this.beat().catch(() => {});
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch(() => {})
        .finally(() => {
          this.beating = undefined;
        });
    }, this.options.intervalMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.db
      .deleteFrom('workers')
      .where('id', '=', this.id)
      .execute()
      .catch(() => {});
  }

  private async beat(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const windowMs = this.options.windowMs ?? 15_000;
    await this.db
      .insertInto('workers')
      .values({ id: this.id, last_seen: now })
      .onConflict((conflict) => conflict.column('id').doUpdateSet({ last_seen: now }))
      .execute();
    const row = await this.db
      .selectFrom('workers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('last_seen', '>=', now - windowMs)
      .executeTakeFirstOrThrow();
    this.live = Math.max(1, Number(row.n));
    // Rows of workers that died long ago.
    await this.db
      .deleteFrom('workers')
      .where('last_seen', '<', now - 3_600_000)
      .execute();
  }
}
