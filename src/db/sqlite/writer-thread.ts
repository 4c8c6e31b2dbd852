import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { EventToStore, StoredEvent } from '../../outbox/event-to-store.ts';
import { sqliteEventInserter } from '../../outbox/store-events.ts';
import { openConnection, type SqliteSettings } from './open-connection.ts';
import { INGEST, WriteTurns } from './write-turns.ts';

/*
 * Runs inside a worker thread: ingest's writes, including the fsync of every
 * commit, happen here so that the thread serving HTTP never blocks on the
 * disk. Batches that arrived while a commit was running are committed
 * together in the next transaction: group commit, on this side too.
 */
type Request = { id: number; events: EventToStore[] } | 'close';

const port = parentPort as MessagePort;
const settings = workerData.settings as SqliteSettings;
const connection = openConnection(settings);
const insert = sqliteEventInserter(connection);
// Shared with `serve`'s delivery thread, which writes the same file (write-turns.ts).
const turns = workerData.writeTurns ? new WriteTurns(workerData.writeTurns as SharedArrayBuffer) : undefined;

port.on('message', (first: Request) => {
  const requests: Exclude<Request, 'close'>[] = [];
  let closing = first === 'close';
  if (first !== 'close') requests.push(first);
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) {
    if (next.message === 'close') closing = true;
    else requests.push(next.message);
  }
  if (requests.length > 0) commit(requests);
  if (closing) {
    connection.close();
    port.close();
  }
});

function commit(requests: Exclude<Request, 'close'>[]): void {
  let results: StoredEvent[];
  turns?.take(INGEST, settings.busyTimeoutMs);
  try {
    results = insert(requests.flatMap((request) => request.events));
  } catch (error) {
    // The caller retries a failed batch item by item, which finds the culprit.
    for (const request of requests) {
      port.postMessage({
        id: request.id,
        error: (error as Error).message,
        code: (error as { code?: string }).code,
      });
    }
    return;
  } finally {
    turns?.give(INGEST);
  }
  let offset = 0;
  for (const request of requests) {
    port.postMessage({ id: request.id, results: results.slice(offset, offset + request.events.length) });
    offset += request.events.length;
  }
}
