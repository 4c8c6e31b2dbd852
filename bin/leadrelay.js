#!/usr/bin/env node
// Runs the compiled CLI from dist/ (built by `npm install` / `npm ci` through
// the prepare script, or `npm run build`). When dist/ is missing or older than
// the sources — a clone being edited, an install without dev dependencies — it
// runs the TypeScript sources through tsx instead: slower to start (~3 s of
// compiling), the same program. LEADRELAY_FROM_SOURCE=1 forces the sources.
import module from 'node:module';
import { compiledIsFresh } from './compiled.js';

// Node 22.1+ keeps the compiled bytecode of every module it loads in a cache
// (in the OS temp folder) and reuses it on the next start; Node 20 lacks it.
module.enableCompileCache?.();

let main;
if (compiledIsFresh()) {
  ({ main } = await import('../dist/src/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
