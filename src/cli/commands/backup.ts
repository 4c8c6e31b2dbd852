import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadDatabaseSettings } from '../../config/load-database-settings.ts';
import { UsageError } from '../usage-error.ts';

/**
 * `leadrelay backup FILE [--force]`: a consistent copy of the SQLite database
 * named by `database.url` (or `DATABASE_URL`), taken with SQLite's online
 * backup API while `serve` and `worker` keep running. Like the outbox
 * commands it reads only the `database:` section, so it works while the rest
 * of the configuration is broken. The copy is written beside FILE and renamed
 * into place once it passed SQLite's quick_check: FILE is never half a
 * database. Refuses an existing FILE unless `force`, and PostgreSQL (pg_dump
 * does that job). Resolves to the exit code; problems with the input throw
 * {@link UsageError} (exit 1).
 *
 * @example
 * // leadrelay backup /var/backups/leadrelay/2026-05-01.db --config /etc/leadrelay/leadrelay.yaml
 * await backupDatabase('/etc/leadrelay/leadrelay.yaml', '/var/backups/leadrelay/2026-05-01.db', {}, console.log);
 */
export async function backupDatabase(
  configFile: string,
  file: string,
  options: { force?: boolean | undefined },
  print: (text: string) => void,
): Promise<number> {
  const database = loadDatabaseSettings(configFile);
  if (!database.url.startsWith('sqlite:')) {
    // The URL is not repeated: it usually holds a password.
    throw new UsageError(
      'leadrelay backup copies a SQLite database, and database.url (or DATABASE_URL) is PostgreSQL: back it up with pg_dump, ' +
        'e.g. `pg_dump --format=custom --file=leadrelay.dump "$DATABASE_URL"` (restore with pg_restore; see docs/deployment.md)',
    );
  }
  const path = database.url.slice('sqlite:'.length);
  if (path === ':memory:')
    throw new UsageError(
      'database.url is sqlite::memory:, which lives only inside one process: nothing to back up',
    );
  const source = resolve(path);
  if (!existsSync(source))
    throw new UsageError(
      `no database at ${source}: nothing has been stored there yet — check database.url in ${configFile} (or DATABASE_URL)`,
    );

  const target = resolve(file);
  if (target === source) throw new UsageError(`${target} is the live database itself: name another file`);
  if (!existsSync(dirname(target))) throw new UsageError(`the folder ${dirname(target)} does not exist`);
  if (existsSync(target)) {
    if (statSync(target).isDirectory())
      throw new UsageError(`${target} is a folder: name a file, e.g. ${join(target, 'leadrelay.db')}`);
    if (!options.force) throw new UsageError(`${target} already exists; add --force to replace it`);
  }
  // SQLite would read a leftover -wal beside the copy as part of it: the copy would
  // open as a different (or corrupt) database.
  for (const companion of [`${target}-wal`, `${target}-shm`, `${target}-journal`]) {
    if (existsSync(companion))
      throw new UsageError(
        `${companion} exists: ${target} is, or was, a database in use, and SQLite would mix that file into the copy — name another file`,
      );
  }

  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  // Contacts' PII: the copy is the owner's alone, like the database (docs/security.md).
  try {
    closeSync(openSync(partial, 'wx', 0o600));
  } catch (error) {
    throw new UsageError(`cannot write in ${dirname(target)}: ${(error as Error).message}`);
  }
  const { onlineBackup } = await import('../../db/sqlite/online-backup.ts');
  let summary: Awaited<ReturnType<typeof onlineBackup>>;
  try {
    summary = await onlineBackup(source, partial, { busyTimeoutMs: database.busy_timeout });
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
    throw error;
  }
  syncFolder(dirname(target));
  print(
    `wrote ${target}: a consistent copy of ${source} (${formatBytes(summary.bytes)}, ` +
      `${summary.events} ${summary.events === 1 ? 'event' : 'events'}, ` +
      `${summary.deliveries} ${summary.deliveries === 1 ? 'delivery' : 'deliveries'}, ` +
      `schema ${summary.migration ?? 'empty'}; quick_check ok)`,
  );
  return 0;
}

/** The rename itself survives a power cut. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(folder, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a folder; the file's own bytes are synced already.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
