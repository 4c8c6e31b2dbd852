import SQLite from 'better-sqlite3';
import { ACCEPTED, type Ledger, SENT } from './ledger.ts';
import type { SignedRequests } from './signed-requests.ts';

export interface StorageCheck {
  eventsInDb: number;
  deliveriesInDb: number;
  /** 2xx responses autocannon saw. */
  accepted: number;
  /** Sent but unanswered when autocannon stopped: it closes connections with requests in flight. */
  unansweredAtCutoff: number;
  /** Of those, how many leadrelay stored anyway (their 2xx went to a closed socket). */
  storedAfterCutoff: number;
  /** Answered 2xx but not in the database: an acknowledged event was lost. */
  acceptedButMissing: number;
  /** In the database though refused, or not a request of this run. */
  unexpected: number;
  /** Events in db = 2xx responses + stored after cutoff, and nothing else is off. */
  ok: boolean;
}

/**
 * Reconciles the database with the responses: every 2xx must be a stored
 * event and every stored event must have been answered 2xx, except requests
 * still in flight when the load stopped, which may or may not have landed.
 * Run it after leadrelay has exited, so the last group commit is included.
 */
export function checkStorage(file: string, ledger: Ledger, requests: SignedRequests): StorageCheck {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const count = (table: string) => db.prepare(`select count(*) from ${table}`).pluck().get() as number;
    const eventsInDb = count('events');
    const deliveriesInDb = count('deliveries');
    let storedAccepted = 0;
    let storedAfterCutoff = 0;
    let unexpected = 0;
    const externalIds = db.prepare('select external_id from events').pluck().iterate() as Iterable<string>;
    for (const externalId of externalIds) {
      const seq = requests.seqOf(externalId);
      const outcome = seq === undefined ? undefined : ledger.outcome(seq);
      if (outcome === ACCEPTED) storedAccepted++;
      else if (outcome === SENT) storedAfterCutoff++;
      else unexpected++; // refused, never sent, or not this run's
    }
    const tally = ledger.tally();
    const acceptedButMissing = tally.accepted - storedAccepted;
    return {
      eventsInDb,
      deliveriesInDb,
      accepted: tally.accepted,
      unansweredAtCutoff: tally.unanswered,
      storedAfterCutoff,
      acceptedButMissing,
      unexpected,
      ok: acceptedButMissing === 0 && unexpected === 0 && eventsInDb === tally.accepted + storedAfterCutoff,
    };
  } finally {
    db.close();
  }
}
