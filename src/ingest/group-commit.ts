/**
 * Batches concurrent writes into one transaction (group commit): with an
 * fsync per commit, one commit for fifty requests costs about what one commit
 * for one request does. Everything submitted while a commit runs goes into
 * the next one, so batches grow with load and stay at one item when idle.
 *
 * When a batch fails, its items are retried one by one, so one bad item
 * cannot fail its neighbours.
 */
export class GroupCommit<Item, Result> {
  private queue: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly commit: (items: Item[]) => Promise<Result[]>,
    private readonly maxBatch = 1000,
  ) {}

  /** Items waiting for, or inside, a commit. */
  get pending(): number {
    return this.queue.length;
  }

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let every request already parsed in this turn of the event loop join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
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
    } finally {
      this.running = false;
    }
  }

  /** Resolves once everything submitted so far has been committed or failed. */
  async flush(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }
}
