// Whether dist/ (what `npm run build` compiles) is there and at least as new
// as every source it was compiled from. Shared by bin/leadrelay.js and
// scripts/build.mjs; plain JavaScript because it runs before any loader.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const DIST = join(ROOT, 'dist');
export const STAMP = join(DIST, '.build-stamp');
const SOURCES = ['src', 'connectors', 'sandboxes'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * The newest modification time among the sources (ms). A walk of a few
 * hundred files: a few milliseconds, paid once per start. An installed
 * package's files carry npm's fixed old date, so there it always says fresh.
 */
export function newestSourceMs() {
  let newest = 0;
  for (const dir of SOURCES) {
    const root = join(ROOT, dir);
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.(ts|mts|mjs|js)$/.test(entry.name)) continue;
      const mtime = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
      if (mtime > newest) newest = mtime;
    }
  }
  for (const file of CONFIGS) {
    const path = join(ROOT, file);
    if (existsSync(path)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** dist/ exists and was built after the last change to any source. */
export function compiledIsFresh() {
  if (process.env.LEADRELAY_FROM_SOURCE === '1' || !existsSync(STAMP)) return false;
  return statSync(STAMP).mtimeMs >= newestSourceMs();
}
