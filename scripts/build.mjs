#!/usr/bin/env node
// `npm run build` (also run by `npm install` / `npm ci` through `prepare`):
// compiles src/, connectors/ and sandboxes/ to dist/ with the TypeScript
// compiler, then stamps it. Builds beside dist/ and swaps the folder in, so a
// process starting meanwhile sees the old build or none, never half of one.
// `--if-stale` does nothing when dist/ is already newer than every source (the
// test suite's global setup). Without the TypeScript compiler (an install with
// --omit=dev) it says so and exits 0: bin/leadrelay.js then runs the sources.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledIsFresh, DIST, newestSourceMs, ROOT } from '../bin/compiled.js';

export function build({ ifStale = false } = {}) {
  if (ifStale && compiledIsFresh()) return 'fresh';
  let tsc;
  try {
    tsc = join(
      dirname(createRequire(join(ROOT, 'package.json')).resolve('typescript/package.json')),
      'bin',
      'tsc',
    );
  } catch {
    console.error('leadrelay build: no TypeScript compiler installed; the CLI will run from source (tsx)');
    return 'skipped';
  }
  // The stamp carries the sources' state as the build *starts*: a file saved
  // while tsc runs is newer than the stamp, so the next start sees dist/ as stale.
  const sourcesAt = newestSourceMs();
  const next = `${DIST}.next-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', next], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  } catch {
    // Type errors still emit JavaScript (npm run typecheck is the gate for them): a
    // newer SDK's types must not stop the tests from running against its code.
    if (!existsSync(join(next, 'src', 'cli', 'main.js'))) {
      rmSync(next, { recursive: true, force: true });
      console.error('leadrelay build: the compiler emitted nothing; the CLI will run from source (tsx)');
      return 'failed';
    }
    console.error('leadrelay build: type errors above (npm run typecheck); dist/ built anyway');
  }
  const stamp = join(next, '.build-stamp');
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  // Seconds, rounded up to the millisecond: a Date would drop the fraction and
  // leave the stamp a hair older than the newest source.
  const at = Math.ceil(sourcesAt) / 1000;
  utimesSync(stamp, at, at);
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(next, DIST);
  rmSync(old, { recursive: true, force: true });
  return 'built';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  const result = build({ ifStale: process.argv.includes('--if-stale') });
  if (result === 'built') console.error(`leadrelay build: dist/ in ${Date.now() - started} ms`);
}
