import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Vitest global setup: the tests start `bin/leadrelay.js` as child processes,
 * which run dist/ when it is newer than the sources. Rebuild it when it is
 * not, so a child never runs code older than the test beside it (and starts
 * in a fraction of the time tsx takes).
 */
export default function buildDist(): void {
  execFileSync(
    process.execPath,
    [join(import.meta.dirname, '..', '..', 'scripts', 'build.mjs'), '--if-stale'],
    {
      stdio: 'inherit',
    },
  );
}
