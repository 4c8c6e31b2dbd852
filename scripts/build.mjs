#!/usr/bin/env node
// `npm run build` (also run by `npm install` / `npm ci` through `prepare`):
// compiles src/, connectors/ and sandboxes/ to dist/ with the TypeScript
// compiler, then stamps it. Builds beside dist/ and swaps the folder in, so a
// process starting meanwhile sees the old build or none, never half of one.
// `--if-stale` does nothing when dist/ is already newer than every source (the
// test suite's global setup). Without the TypeScript compiler (an install with
// --omit=dev) it says so and exits 0: bin/leadrelay.js then runs the sources.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledIsFresh, DIST, ROOT } from '../bin/compiled.js';

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
  const next = `${DIST}.next-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', next], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  writeFileSync(join(next, '.build-stamp'), `${new Date().toISOString()}\n`);
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
