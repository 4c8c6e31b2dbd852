import type SQLite from 'better-sqlite3';

/** Who takes turns: the ingest writer thread, and `serve`'s delivery thread. */
export type Writer = 0 | 1;
export const INGEST: Writer = 0;
export const DELIVERY: Writer = 1;

// Int32 words of the shared buffer.
const WANTS = [0, 1] as const;
const YIELDS = 2;
const CHANGES = 3;

/*
 * Design note. SQLite lets one connection write at a time; a connection that
 * finds the file locked sleeps in its busy handler (1, 2, 5, … 100 ms) and
 * tries again. `serve` has two writers of one file in one process: the ingest
 * writer thread, which under load commits batch after batch, and the delivery
 * thread (claims, finishes, lease renewals, heartbeats). The lock was free
 * only for an instant between two ingest commits, and the delivery thread,
 * asleep in its busy handler, almost never caught that instant: under an
 * ingest load it delivered next to nothing until the load ended.
 *
 * So the two take turns before asking SQLite: Peterson's algorithm over a
 * shared buffer (Atomics are sequentially consistent). A writer says it
 * wants the lock and yields to the other; it goes on at once when the other
 * does not want the lock, else it waits on the shared buffer and is woken the
 * moment the other gives its turn back. When both keep wanting it, they
 * alternate: an ingest commit (every event that queued meanwhile, in one
 * batch), a delivery transaction, an ingest commit…
 *
 * A turn is a courtesy, never what keeps data correct: SQLite's own lock
 * still does that. So every wait is bounded (by `database.busy_timeout`),
 * after which the writer goes to SQLite as before; a thread that ended while
 * holding its turn costs the other one such wait until its turn is given back
 * for it (`give`, by whoever saw the thread end). Other connections — the
 * main thread's, other processes' — do not take turns and meet the busy
 * handler as before.
 */

/**
 * Turns for SQLite's write lock between two threads of this process, over a
 * `SharedArrayBuffer` both were given.
 *
 * @example
 * const turns = new WriteTurns();            // in the thread that starts the others
 * const mine = new WriteTurns(turns.buffer); // in a thread given `turns.buffer`
 * mine.take(INGEST, 5_000);
 * try { insertBatch(); } finally { mine.give(INGEST); }
 */
export class WriteTurns {
  private readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT)) {
    this.words = new Int32Array(buffer);
  }

  /** Waits (blocking this thread, at most `timeoutMs`) until `writer` may write. */
  take(writer: Writer, timeoutMs: number): void {
    const words = this.words;
    const other = WANTS[1 - writer]!;
    Atomics.store(words, WANTS[writer], 1);
    Atomics.store(words, YIELDS, writer);
    this.changed();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(words, CHANGES);
      if (Atomics.load(words, other) === 0 || Atomics.load(words, YIELDS) !== writer) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      Atomics.wait(words, CHANGES, seen, left);
    }
  }

  /** `writer` has committed or rolled back (or its thread ended): the other may go. */
  give(writer: Writer): void {
    Atomics.store(this.words, WANTS[writer], 0);
    this.changed();
  }

  private changed(): void {
    Atomics.add(this.words, CHANGES, 1);
    Atomics.notify(this.words, CHANGES);
  }
}

/**
 * A statement of `sqlite` that takes `writer`'s turn around what it writes:
 * from `begin` to `commit`/`rollback`, and around a writing statement run
 * outside a transaction (kysely's single-statement writes). Reads never wait.
 *
 * @example
 * const statement = takingTurns(sqlite, sqlite.prepare(sql), sql, turns, DELIVERY, 5_000);
 */
export function takingTurns(
  sqlite: SQLite.Database,
  statement: SQLite.Statement,
  source: string,
  turns: WriteTurns,
  writer: Writer,
  timeoutMs: number,
): SQLite.Statement {
  const begins = /^\s*begin\b/i.test(source);
  const ends = /^\s*(commit|end|rollback)\s*(transaction)?\s*;?\s*$/i.test(source);
  if (!begins && !ends && statement.readonly) return statement;
  const around =
    <Args extends unknown[], Result>(run: (...args: Args) => Result) =>
    (...args: Args): Result => {
      if (begins) {
        turns.take(writer, timeoutMs);
        try {
          return run(...args);
        } catch (error) {
          turns.give(writer);
          throw error;
        }
      }
      if (ends) {
        try {
          return run(...args);
        } finally {
          // A commit that failed leaves the transaction open, and the turn held, for the rollback.
          if (!sqlite.inTransaction) turns.give(writer);
        }
      }
      if (sqlite.inTransaction) return run(...args);
      turns.take(writer, timeoutMs);
      try {
        return run(...args);
      } finally {
        turns.give(writer);
      }
    };
  const run = around(statement.run.bind(statement));
  const all = around(statement.all.bind(statement));
  const get = around(statement.get.bind(statement));
  return new Proxy(statement, {
    get(target, property, receiver) {
      if (property === 'run') return run;
      if (property === 'all') return all;
      if (property === 'get') return get;
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
