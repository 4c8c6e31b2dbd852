import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';

export type Durability = 'full' | 'normal';

export interface SqliteSettings {
  /** Absolute path, or `:memory:`. */
  file: string;
  durability: Durability;
  /** How long a writer waits for another connection's lock before failing. */
  busyTimeoutMs: number;
}

/** One SQLite connection with leadrelay's settings; every connection to the file is opened here. */
export function openConnection(settings: SqliteSettings): SQLite.Database {
  if (settings.file !== ':memory:') mkdirSync(dirname(settings.file), { recursive: true });
  const sqlite = new SQLite(settings.file);
  sqlite.pragma('journal_mode = WAL');
  // In WAL mode FULL syncs the log on every commit: a 2xx is on disk. NORMAL
  // syncs at checkpoints only and may lose the last commits on power loss.
  sqlite.pragma(`synchronous = ${settings.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma(`busy_timeout = ${Math.round(settings.busyTimeoutMs)}`);
  sqlite.pragma('foreign_keys = ON');
  return sqlite;
}
