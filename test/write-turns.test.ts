import { describe, expect, it } from 'vitest';
import { DELIVERY, INGEST, WriteTurns } from '../src/db/sqlite/write-turns.ts';
import { startThread } from '../src/util/start-thread.ts';

// The ingest writer thread and `serve`'s delivery thread take turns for
// SQLite's write lock (src/db/sqlite/write-turns.ts) instead of sleeping in
// SQLite's busy handler, where the delivery thread starved while ingest ran.

describe('write turns', () => {
  it('a writer asking while the other holds its turn goes only once the turn is given back', async () => {
    const turns = new WriteTurns();
    const counter = new SharedArrayBuffer(4);
    turns.take(DELIVERY, 1_000);
    const thread = startThread(import.meta.url, './helpers/take-turn', {
      buffer: turns.buffer,
      counter,
      writer: INGEST,
    });
    const messages: Record<string, unknown>[] = [];
    const taken = new Promise<number>((resolve, reject) => {
      thread.on('message', (message: Record<string, unknown>) => {
        messages.push(message);
        if ('counterWhenTaken' in message) resolve(message.counterWhenTaken as number);
      });
      thread.on('error', reject);
    });
    await new Promise<void>((resolve) => thread.on('message', (message) => message.asking && resolve()));
    // The "commit" of the delivery side, then its turn back.
    Atomics.store(new Int32Array(counter), 0, 1);
    turns.give(DELIVERY);
    expect(await taken).toBe(1);
    await new Promise((resolve) => thread.once('exit', resolve));
  });

  it('a writer that nobody holds back goes at once, and a turn nobody gives back holds it only for the timeout', () => {
    const turns = new WriteTurns();
    let started = performance.now();
    turns.take(INGEST, 5_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    turns.give(INGEST);

    // The delivery thread took its turn and ended without giving it back.
    turns.take(DELIVERY, 5_000);
    started = performance.now();
    turns.take(INGEST, 300);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    turns.give(INGEST);

    // Once whoever saw that thread end gives its turn back, ingest goes at once again.
    turns.give(DELIVERY);
    started = performance.now();
    turns.take(INGEST, 5_000);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
