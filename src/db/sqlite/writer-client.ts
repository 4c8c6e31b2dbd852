import type { Worker } from 'node:worker_threads';
import type { EventToStore, StoredEvent } from '../../outbox/event-to-store.ts';
import { startThread } from '../../util/start-thread.ts';
import type { SqliteSettings } from './open-connection.ts';
import { INGEST, WriteTurns } from './write-turns.ts';

type Pending = { resolve: (results: StoredEvent[]) => void; reject: (error: Error) => void };

/**
 * The main thread's handle on the writer thread. A write resolves only after
 * the thread has committed (and, with durability full, fsync'ed) the batch.
 * If the thread dies, its pending writes fail — they were not acknowledged,
 * so nothing acknowledged is lost — and the next write starts a new thread.
 */
export class SqliteWriterThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `writeTurns`: shared with another thread that writes the file (write-turns.ts). */
  constructor(
    private readonly settings: SqliteSettings,
    private readonly writeTurns?: SharedArrayBuffer | undefined,
  ) {}

  write(events: readonly EventToStore[]): Promise<StoredEvent[]> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, events });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    // Compiled, the thread runs writer-thread.js; from the sources, through tsx.
    const worker = startThread(import.meta.url, './writer-thread', {
      settings: this.settings,
      writeTurns: this.writeTurns,
    });
    worker.on(
      'message',
      (message: { id: number; results?: StoredEvent[]; error?: string; code?: string }) => {
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        this.pending.delete(message.id);
        if (message.results) waiting.resolve(message.results);
        else
          waiting.reject(Object.assign(new Error(message.error ?? 'write failed'), { code: message.code }));
      },
    );
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      // A thread that ended mid-commit holds nothing any more.
      if (this.writeTurns) new WriteTurns(this.writeTurns).give(INGEST);
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the database writer thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
