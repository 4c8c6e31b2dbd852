/**
 * Batches concurrent writes into one transaction (group commit): with an
 * fsync per commit, one commit for fifty requests costs about what one commit
 * for one request does. Everything submitted in one turn of the event loop
 * goes into one batch, so batches grow with load and stay at one item when
 * idle.
 *
 * `maxInFlight` is how many batches may be committing at once. A writer on
 * this thread needs 1 (the next batch forms while the current one commits);
 * a writer thread takes more, so this thread keeps serving requests instead
 * of waiting in lockstep for each commit to come back.
 *
 * When a batch fails, its items are retried one by one, so one bad item
 * cannot fail its neighbours.
 */
export class GroupCommit<Item, Result> {
  private queue: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly commit: (items: Item[]) => Promise<Result[]>,
    private readonly options: { maxBatch?: number; maxInFlight?: number } = {},
  ) {}

  /** Items waiting for, or inside, a commit. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far has been committed or failed. */
  flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Let every request already parsed in this turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const maxInFlight = this.options.maxInFlight ?? 1;
    while (this.queue.length > 0 && this.inFlight < maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxBatch ?? 1000);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.dispatch();
        else if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    }
  }

  private async run(batch: typeof this.queue): Promise<void> {
    try {
      const results = await this.commit(batch.map((entry) => entry.item));
      for (const [i, entry] of batch.entries()) entry.resolve(results[i]!);
    } catch {
      for (const entry of batch) {
        await this.commit([entry.item]).then(
          ([result]) => entry.resolve(result!),
          (error: unknown) => entry.reject(error),
        );
      }
    }
  }
}
