import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { backupDatabase } from '../src/cli/commands/backup.ts';
import { UsageError } from '../src/cli/usage-error.ts';
import { openStore } from '../src/db/open-store.ts';
import { openConnection } from '../src/db/sqlite/open-connection.ts';
import { showEvent } from '../src/outbox/show-event.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

const config = {
  sources: { site: { verify: { secrets: [secret] } } },
  routes: [{ on: '*', to: ['hook'] }],
};

async function post(service: TestService): Promise<{ id: string; status: number }> {
  const event = leadEvent();
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  return { id: String(response.json.id), status: response.status };
}

/** The restore procedure's last step: a store opened on the copy, as `serve` would open it. */
async function openCopy(file: string) {
  const { store } = await openStore({ url: `sqlite:${file}`, durability: 'full', busy_timeout: 5000 });
  cleanups.push(() => store.close());
  return store;
}

async function countRows(store: Awaited<ReturnType<typeof openCopy>>, table: 'events' | 'deliveries') {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function folder(): string {
  const dir = tempDir('leadrelay-backup-');
  cleanups.push(() => dir.cleanup());
  return dir.path;
}

describe('leadrelay backup (SQLite)', () => {
  it('copies the database while the service keeps storing events, and a store opened on the copy reads them', async () => {
    const service = await startTestService(config);
    cleanups.push(() => service.close());
    const target = join(folder(), 'leadrelay-backup.db');
    // ~24 MB of history (ignored events, no deliveries): a copy of thousands of pages,
    // taken while webhooks keep arriving.
    const seeded = 2_400;
    const filler = randomBytes(5_000).toString('hex');
    for (let batch = 0; batch < seeded / 200; batch++) {
      await service.store.db
        .insertInto('events')
        .values(
          Array.from({ length: 200 }, (_, i) => ({
            id: `ev_seed_${batch}_${i}`,
            source: 'site',
            external_id: `seed_${batch}_${i}`,
            type: 'lead.qualified',
            status: 'ignored' as const,
            received_at: Date.now(),
            occurred_at: null,
            payload: JSON.stringify({ filler }),
            raw_payload: null,
          })),
        )
        .execute();
    }

    // Two senders post webhooks before, during and after the backup.
    const sent: { id: string; sentAt: number; answeredAt: number }[] = [];
    const refused: number[] = [];
    let sending = true;
    const senders = [0, 1].map(async () => {
      while (sending) {
        const sentAt = performance.now();
        const { id, status } = await post(service);
        if (status === 202) sent.push({ id, sentAt, answeredAt: performance.now() });
        else refused.push(status);
      }
    });
    await until(() => sent.length >= 30, '30 events stored before the backup', 120_000);
    const startedAt = performance.now();
    const storedBefore = sent.filter((event) => event.answeredAt < startedAt).map((event) => event.id);
    const printed: string[] = [];
    const code = await backupDatabase(service.configFile, target, {}, (text) => printed.push(text));
    const finishedAt = performance.now();
    const countAtFinish = sent.length;
    await until(() => sent.length >= countAtFinish + 10, '10 more events stored after the backup', 120_000);
    sending = false;
    await Promise.all(senders);

    expect(code).toBe(0);
    expect(refused, 'ingest answered something other than 202 while the backup ran').toEqual([]);
    // One file, the owner's alone, with nothing beside it that SQLite would need.
    expect(statSync(target).mode & 0o777).toBe(0o600);
    expect(existsSync(`${target}-wal`)).toBe(false);
    expect(readdirSync(join(target, '..')).filter((name) => name.includes('.partial-'))).toEqual([]);

    const copy = await openCopy(target);
    const inCopy = new Set(
      (await copy.db.selectFrom('events').select('id').execute()).map((row) => row.id as string),
    );
    // Everything answered 202 before the backup began is in it; nothing sent after it ended is.
    expect(storedBefore.filter((id) => !inCopy.has(id))).toEqual([]);
    expect(sent.filter((event) => event.sentAt > finishedAt && inCopy.has(event.id))).toEqual([]);
    expect(await service.count('events')).toBeGreaterThan(inCopy.size);
    // One moment: each posted event in the copy has its delivery row (written in one transaction with it).
    expect(await countRows(copy, 'deliveries')).toBe(inCopy.size - seeded);
    expect(printed).toEqual([
      expect.stringMatching(
        new RegExp(
          `^wrote ${escapeRegExp(target)}: a consistent copy of ${escapeRegExp(service.dbFile)} \\([\\d.]+ MiB, ${inCopy.size} events, ${inCopy.size - seeded} deliveries, schema \\d{4}-[a-z-]+; quick_check ok\\)$`,
        ),
      ),
    ]);
    const first = await showEvent(copy.db, storedBefore[0]!);
    expect(first).toMatchObject({
      id: storedBefore[0],
      type: 'lead.qualified',
      deliveries: [{ connector: 'hook', status: 'pending' }],
    });
  });

  it('finishes while another connection commits between every step of the copy', async () => {
    const service = await startTestService(config);
    cleanups.push(() => service.close());
    const target = join(folder(), 'copy.db');
    // A few MB (~1,000 pages): more than one step of SQLite's default 100 pages.
    const writer = openConnection({ file: service.dbFile, durability: 'normal', busyTimeoutMs: 5000 });
    cleanups.push(() => writer.close());
    const insert = writer.prepare(
      "insert into events (id, source, external_id, type, status, received_at, payload) values (?, 'site', ?, 'lead.qualified', 'ignored', ?, ?)",
    );
    const filler = JSON.stringify({ filler: randomBytes(2_000).toString('hex') });
    writer.transaction(() => {
      for (let i = 0; i < 1_000; i++) insert.run(`ev_seed_${i}`, `seed_${i}`, Date.now(), filler);
    })();

    // One commit from another connection after every turn of the event loop, as a busy
    // `serve` would, for at most `limit` commits. A copy that starts over after each
    // commit could only finish once they stop.
    const limit = 20_000;
    let commits = 0;
    let copying = true;
    const hammer = new Promise<void>((resolve) => {
      const commit = () => {
        if (!copying || commits >= limit) return resolve();
        insert.run(`ev_hammer_${commits}`, `hammer_${commits}`, Date.now(), '{}');
        commits++;
        setImmediate(commit);
      };
      setImmediate(commit);
    });
    await backupDatabase(service.configFile, target, {}, () => {});
    const commitsWhenDone = commits;
    copying = false;
    await hammer;

    expect(commitsWhenDone, 'the copy finished only after the writes stopped').toBeLessThan(limit);
    expect(commitsWhenDone).toBeGreaterThan(0);
    expect(await countRows(await openCopy(target), 'events')).toBeGreaterThanOrEqual(1_000);
  });

  it('refuses to replace an existing file unless --force, and never a file with a -wal beside it', async () => {
    const service = await startTestService(config);
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await service.stop();
      rmSync(service.dir, { recursive: true, force: true });
    });
    for (let i = 0; i < 3; i++) expect((await post(service)).status).toBe(202);
    // Stopped: the backup opens a database nobody has open, with no -wal or -shm beside it.
    await service.stop();
    stopped = true;
    expect(existsSync(`${service.dbFile}-wal`)).toBe(false);
    const dir = folder();
    const target = join(dir, 'nightly.db');
    writeFileSync(target, 'last night’s copy');

    const refusal = backupDatabase(service.configFile, target, {}, () => {});
    await expect(refusal).rejects.toThrow(UsageError);
    await expect(refusal).rejects.toThrow(`${target} already exists; add --force to replace it`);
    expect(readFileSync(target, 'utf8')).toBe('last night’s copy');

    const printed: string[] = [];
    expect(
      await backupDatabase(service.configFile, target, { force: true }, (text) => printed.push(text)),
    ).toBe(0);
    expect(printed[0]).toContain('3 events, 3 deliveries');
    expect(await countRows(await openCopy(target), 'events')).toBe(3);

    const inUse = join(dir, 'in-use.db');
    writeFileSync(`${inUse}-wal`, 'a write-ahead log of some other database');
    await expect(backupDatabase(service.configFile, inUse, { force: true }, () => {})).rejects.toThrow(
      `${inUse}-wal exists`,
    );
    expect(existsSync(inUse)).toBe(false);
    await expect(
      backupDatabase(service.configFile, service.dbFile, { force: true }, () => {}),
    ).rejects.toThrow('is the live database itself');
    expect(readdirSync(dir).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('names a missing database instead of creating an empty one to copy', async () => {
    const dir = folder();
    const missing = join(dir, 'data', 'leadrelay.db');
    const configFile = join(dir, 'leadrelay.yaml');
    writeFileSync(configFile, stringify({ database: { url: `sqlite:${missing}` } }));
    await expect(backupDatabase(configFile, join(dir, 'copy.db'), {}, () => {})).rejects.toThrow(
      `no database at ${missing}`,
    );
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(dir, 'copy.db'))).toBe(false);
  });
});

describe('leadrelay backup (PostgreSQL)', () => {
  it('exits 1 pointing to pg_dump, without repeating the URL and its password', async () => {
    const dir = folder();
    const configFile = join(dir, 'leadrelay.yaml');
    writeFileSync(
      configFile,
      stringify({ database: { url: 'postgres://leadrelay:s3cret-pw@127.0.0.1:5432/leadrelay' } }),
    );
    const attempt = backupDatabase(configFile, join(dir, 'copy.db'), {}, () => {});
    await expect(attempt).rejects.toThrow(UsageError);
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).toContain('pg_dump --format=custom');
    expect(message).not.toContain('s3cret-pw');
    expect(existsSync(join(dir, 'copy.db'))).toBe(false);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
