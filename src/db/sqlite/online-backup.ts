import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';

/** What a finished copy holds, for the operator to check against what they expect. */
export interface BackupSummary {
  bytes: number;
  events: number;
  deliveries: number;
  /** The newest migration applied to the copy: the oldest leadrelay that can open it knows this one. */
  migration: string | undefined;
}

// sqlite3_backup_step's page count for "everything that is left", within the
// range better-sqlite3 accepts from a progress callback.
const ALL_REMAINING_PAGES = 0x7fffffff;

/*
 * Design note. SQLite's online backup copies pages in steps and starts over
 * whenever another connection writes between two steps. With `serve` storing
 * events every few milliseconds, a copy made in small steps may never finish,
 * so after the first (empty) step everything is copied in one step: one read
 * transaction, hence one consistent moment. In WAL mode a reader blocks no
 * writer, so ingest goes on meanwhile; only the WAL cannot be checkpointed
 * past that moment until the copy ends, and grows for that long.
 *
 * The source is opened read-only: a backup never writes to the live database.
 * The copy is switched to the rollback journal (`journal_mode = DELETE`) so it
 * is one self-contained file with no -wal beside it, fit to be moved, and
 * checked (`quick_check`) before anyone relies on it.
 */

/**
 * Copies the SQLite database `source` (which may be in use by `serve` and
 * `worker`) into `target`, an empty or absent file, with SQLite's online
 * backup API. Throws, naming the problem, when the copy does not check out.
 *
 * @example
 * const summary = await onlineBackup('/var/lib/leadrelay/leadrelay.db', '/backups/leadrelay.db.partial', {
 *   busyTimeoutMs: 5000,
 * });
 * console.log(`${summary.events} events`);
 */
export async function onlineBackup(
  source: string,
  target: string,
  options: { busyTimeoutMs: number },
): Promise<BackupSummary> {
  const { default: SQLite } = await import('better-sqlite3');
  const live = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    live.pragma(`busy_timeout = ${Math.round(options.busyTimeoutMs)}`);
    await live.backup(target, { progress: () => ALL_REMAINING_PAGES });
  } finally {
    live.close();
  }

  const copy = new SQLite(target, { fileMustExist: true });
  let summary: Omit<BackupSummary, 'bytes'>;
  try {
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy failed SQLite's quick_check: ${String(check)}`);
    const hasTable = (name: string) =>
      copy.prepare("select 1 from sqlite_master where type = 'table' and name = ?").get(name) !== undefined;
    const count = (table: 'events' | 'deliveries') =>
      hasTable(table) ? (copy.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n : 0;
    summary = {
      events: count('events'),
      deliveries: count('deliveries'),
      migration: hasTable('leadrelay_migrations')
        ? ((
            copy.prepare('select max(name) as name from leadrelay_migrations').get() as {
              name: string | null;
            }
          ).name ?? undefined)
        : undefined,
    };
  } finally {
    copy.close();
  }
  // SQLite synced its own commits; this covers the journal-mode switch, before the caller renames the file.
  const fd = openSync(target, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { ...summary, bytes: statSync(target).size };
}
