import { Worker } from 'node:worker_threads';
import type { EventToStore, StoredEvent } from '../../outbox/event-to-store.ts';
import type { SqliteSettings } from './open-connection.ts';

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

  constructor(private readonly settings: SqliteSettings) {}

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
    // Compiled (dist/), the thread runs the compiled module; from the sources,
    // a boot file first gives the thread the TypeScript loader it lacks.
    const worker = import.meta.url.endsWith('.js')
      ? new Worker(new URL('./writer-thread.js', import.meta.url), {
          workerData: { settings: this.settings },
        })
      : new Worker(new URL('./thread-boot.mjs', import.meta.url), {
          workerData: { entry: new URL('./writer-thread.ts', import.meta.url).href, settings: this.settings },
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
