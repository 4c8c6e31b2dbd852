import type { Durability } from '../db/database.ts';
import type { MetricsSnapshot } from '../observability/metrics.ts';

/** What the delivery thread is started with (`workerData`): everything it needs to build its own copy. */
export interface DeliveryThreadData {
  /** The main configuration file: the thread loads it (and the connector files) itself. */
  configFile: string;
  /** The environment for `${VAR}`; undefined: the thread's copy of `process.env`. */
  env: Record<string, string | undefined> | undefined;
  /** The database the main thread opened and migrated, as it resolved it (`DATABASE_URL` included). */
  database: { url: string; durability: Durability; busy_timeout: number };
  /** A SQLite file's write turns, shared with the main thread's writer thread (src/db/sqlite/write-turns.ts). */
  writeTurns: SharedArrayBuffer | undefined;
  /** The main thread logger's level: the thread logs what the main thread would. */
  logLevel: string;
  /** `LOG_PII`: ops alerts show email and phone in error texts when true. */
  pii: boolean;
}

/** Main thread → delivery thread. */
export type ToDeliveryThread =
  /** Rows were stored or put back in the queue: claim now. */
  | { type: 'wake' }
  /** The main thread accepted a changed configuration: load it too. */
  | { type: 'reload' }
  /** Answer with this thread's registry (`/metrics`). */
  | { type: 'metrics'; id: number }
  /** Stop claiming, finish or release in-flight deliveries within `timeoutMs`, close, say `stopped`. */
  | { type: 'stop'; timeoutMs: number };

/** Delivery thread → main thread. */
export type FromDeliveryThread =
  /** Delivering; `owner` is its name in `lease_owner` and in the `workers` heartbeats. */
  | { type: 'ready'; owner: string }
  /** One serialized log line, for the main thread's logger to write. */
  | { type: 'log'; line: string }
  | { type: 'metrics'; id: number; metrics: MetricsSnapshot }
  /** Its leases are finished or released and its database is closed: it may be ended. */
  | { type: 'stopped' };
