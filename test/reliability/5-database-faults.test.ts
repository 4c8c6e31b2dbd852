import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cleanupsAfter } from '../helpers/cleanups.ts';
import { newSecret, startTestService } from '../helpers/harness.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { events, postSigned } from './common.ts';
import { record } from './results.ts';

const cleanups = cleanupsAfter('all');

describe('database faults', () => {
  it('answers 503 while another process holds the database locked, never a 2xx it did not store, and recovers', async () => {
    const secret = newSecret();
    const service = await startTestService({
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      database: { busy_timeout: '300ms' },
    });
    cleanups.push(() => service.close());
    const tag = `dbfault${Date.now()}`;
    const all = events(60, 10, tag);
    const before = await Promise.all(all.slice(0, 10).map((event) => postSigned(service.url, secret, event)));
    expect(before.map((r) => r.status)).toEqual(Array(10).fill(202));

    // Another process takes the write lock and keeps it longer than busy_timeout.
    const locker = new SQLite(service.dbFile);
    cleanups.push(() => locker.close());
    locker.exec('BEGIN EXCLUSIVE');
    const during = await Promise.all(
      all.slice(10, 40).map((event) => postSigned(service.url, secret, event)),
    );
    const readyDuring = (await fetch(`${service.url}/readyz`)).status;
    locker.exec('ROLLBACK');

    const statuses = during.map((r) => r.status);
    const acceptedDuring = all.slice(10, 40).filter((_, i) => statuses[i] === 202 || statuses[i] === 200);
    // Recovery: the refused events are accepted when sent again, and new ones too.
    const after = await Promise.all(all.slice(10).map((event) => postSigned(service.url, secret, event)));
    const stored = await service.store.db.selectFrom('events').select('external_id').execute();
    const storedIds = new Set(stored.map((row) => row.external_id));
    const acceptedCount = before.length + after.filter((r) => r.status === 202 || r.status === 200).length;
    const missing = all.filter((event) => !storedIds.has(String(event.id)));
    record({
      order: 5,
      scenario: 'database locked (busy_timeout exceeded)',
      load: `${all.length} events: 10 before, 30 during, all 50 others after the fault`,
      faults:
        'another connection holds BEGIN EXCLUSIVE on the SQLite file for longer than busy_timeout (300 ms)',
      accepted: acceptedCount,
      delivered: storedIds.size,
      lost: missing.length,
      duplicated: stored.length - storedIds.size,
      notes: `during the lock: ${statuses.filter((s) => s === 503).length}×503, ${acceptedDuring.length}×2xx (every 2xx stored: ${acceptedDuring.every((e) => storedIds.has(String(e.id)))}), readyz ${readyDuring}; after: ${after.filter((r) => r.status === 202).length}×202, ${after.filter((r) => r.status === 200).length}×200`,
    });
    expect(statuses.every((s) => s === 503 || s === 202)).toBe(true);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(after.every((r) => r.status === 202 || r.status === 200)).toBe(true);
    expect(missing).toEqual([]);
    expect(stored.length).toBe(storedIds.size);
  });

  it('answers 503 when the disk is full, never a 2xx it did not store, and recovers when space is freed', async (context) => {
    const dir = tempDir('leadrelay-diskfull-');
    cleanups.push(dir.cleanup);
    const mountPoint = join(dir.path, 'small');
    mkdirSync(mountPoint);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (error) {
      console.log(
        `disk-full case skipped: cannot mount a small tmpfs here (${String(error).split('\n')[0]})`,
      );
      context.skip();
      return;
    }
    cleanups.push(() => execFileSync('umount', ['-l', mountPoint]));
    const secret = newSecret();
    const service = await startTestService({
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      database: { url: `sqlite:${join(mountPoint, 'leadrelay.db')}` },
    });
    cleanups.push(() => service.close());
    const tag = `diskfull${Date.now()}`;
    const all = events(80, 10, tag).map(
      (event): Record<string, unknown> => ({ ...event, metadata: { padding: 'p'.repeat(8_192) } }),
    );
    const before = [];
    for (const event of all.slice(0, 10)) before.push((await postSigned(service.url, secret, event)).status);
    expect(before).toEqual(Array(10).fill(202));

    // Fill the filesystem.
    const filler = join(mountPoint, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(16_384, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch {
      // ENOSPC: full.
    } finally {
      closeSync(fd);
    }
    const during: number[] = [];
    for (const event of all.slice(10, 40)) during.push((await postSigned(service.url, secret, event)).status);
    rmSync(filler);
    const after: number[] = [];
    for (const event of all.slice(10)) after.push((await postSigned(service.url, secret, event)).status);

    const stored = new Set(
      (await service.store.db.selectFrom('events').select('external_id').execute()).map(
        (row) => row.external_id,
      ),
    );
    const okDuring = all.slice(10, 40).filter((_, i) => during[i] === 202 || during[i] === 200);
    const missing = all.filter((event) => !stored.has(String(event.id)));
    record({
      order: 5.5,
      scenario: 'disk full',
      load: `${all.length} events of ~9 KB: 10 before, 30 while full, all 70 others after space was freed`,
      faults: 'SQLite file on a 16 MB tmpfs filled to ENOSPC by another file',
      accepted: before.length + after.filter((s) => s === 202 || s === 200).length,
      delivered: stored.size,
      lost: missing.length,
      duplicated: 0,
      notes: `while full: ${during.filter((s) => s === 503).length}×503, ${okDuring.length}×2xx (all stored: ${okDuring.every((e) => stored.has(String(e.id)))}); after: ${after.filter((s) => s === 202).length}×202, ${after.filter((s) => s === 200).length}×200${after.some((s) => s !== 200 && s !== 202) ? `, other: ${after.filter((s) => s !== 200 && s !== 202).join(' ')}` : ''}`,
    });
    expect(during.every((s) => s === 503 || s === 202)).toBe(true);
    expect(during.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(okDuring.every((e) => stored.has(String(e.id)))).toBe(true);
    expect(after.every((s) => s === 202 || s === 200)).toBe(true);
    expect(missing).toEqual([]);
  });
});
