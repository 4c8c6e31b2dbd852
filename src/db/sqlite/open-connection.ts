import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
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
  if (settings.file !== ':memory:') {
    // The outbox holds contacts' PII: a new data folder and file are the owner's
    // alone (SQLite gives its -wal and -shm files the database file's mode).
    mkdirSync(dirname(settings.file), { recursive: true, mode: 0o700 });
    if (!existsSync(settings.file)) closeSync(openSync(settings.file, 'a', 0o600));
  }
  const sqlite = new SQLite(settings.file);
  sqlite.pragma('journal_mode = WAL');
  // In WAL mode FULL syncs the log on every commit: a 2xx is on disk. NORMAL
  // syncs at checkpoints only and may lose the last commits on power loss.
  sqlite.pragma(`synchronous = ${settings.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma(`busy_timeout = ${Math.round(settings.busyTimeoutMs)}`);
  sqlite.pragma('foreign_keys = ON');
  return sqlite;
}
