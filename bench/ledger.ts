export const SENT = 1;
export const ACCEPTED = 2;
export const REFUSED = 3;

type Outcome = typeof SENT | typeof ACCEPTED | typeof REFUSED;

/**
 * What happened to each request, by sequence number: sent and unanswered,
 * answered 2xx, or answered otherwise. One byte per request, because a run
 * sends hundreds of thousands.
 */
export class Ledger {
  private outcomes = new Uint8Array(1 << 16);
  private count = 0;

  /** Requests recorded, i.e. the highest sequence number plus one. */
  get size(): number {
    return this.count;
  }

  record(seq: number, outcome: Outcome): void {
    if (seq >= this.outcomes.length) {
      const grown = new Uint8Array(Math.max(this.outcomes.length * 2, seq + 1));
      grown.set(this.outcomes);
      this.outcomes = grown;
    }
    this.outcomes[seq] = outcome;
    if (seq >= this.count) this.count = seq + 1;
  }

  outcome(seq: number): number {
    return seq < this.count ? (this.outcomes[seq] ?? 0) : 0;
  }

  tally(): { sent: number; accepted: number; refused: number; unanswered: number } {
    let accepted = 0;
    let refused = 0;
    let unanswered = 0;
    for (let seq = 0; seq < this.count; seq++) {
      const outcome = this.outcomes[seq];
      if (outcome === ACCEPTED) accepted++;
      else if (outcome === REFUSED) refused++;
      else if (outcome === SENT) unanswered++;
    }
    return { sent: this.count, accepted, refused, unanswered };
  }
}
