import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { type Writer, WriteTurns } from '../../src/db/sqlite/write-turns.ts';

// Runs in a worker thread (test/write-turns.test.ts): asks for a turn, reports
// what the shared counter said once it had it, and gives the turn back.
const port = parentPort as MessagePort;
const { buffer, counter, writer } = workerData as {
  buffer: SharedArrayBuffer;
  counter: SharedArrayBuffer;
  writer: Writer;
};
const turns = new WriteTurns(buffer);
port.postMessage({ asking: true });
turns.take(writer, 60_000);
port.postMessage({ counterWhenTaken: Atomics.load(new Int32Array(counter), 0) });
turns.give(writer);
port.close();
