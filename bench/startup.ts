import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leadrelayEnv } from './ingest.ts';
import { startServerProcess } from './server-process.ts';
import { newSecret } from './signed-requests.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'leadrelay.js');

export interface StartupRow {
  command: string;
  /** Median wall time from spawn to the answer (exit, or /healthz 200 for serve), compiled dist/. */
  compiledMs: number;
  /** The same from the TypeScript sources through tsx (LEADRELAY_FROM_SOURCE=1): the baseline. */
  sourceMs: number;
  targetMs: number;
}

export interface StartupResult {
  part: 'startup';
  runs: number;
  rows: StartupRow[];
}

/*
 * Start-up as users meet it: each command is a new process (`node
 * bin/leadrelay.js …`), timed from spawn until it has answered — exited for
 * `--help` and `deliveries list`, answered /healthz 200 for `serve`. Each is
 * run `runs` times from dist/ and from the sources (the way every start
 * worked before dist/), and the median kept. Restart time is also recovery
 * time after a crash, which is why `serve` is here.
 */
export async function benchStartup(options: {
  runs: number;
  log: (line: string) => void;
}): Promise<StartupResult> {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-startup-'));
  try {
    const config = writeStartupConfig(dir);
    const env = leadrelayEnv();
    const source = { ...env, LEADRELAY_FROM_SOURCE: '1' };
    execFileSync(process.execPath, [BIN, 'migrate', '--config', config], { env, stdio: 'ignore' });
    const rows: StartupRow[] = [];
    const commands: {
      command: string;
      targetMs: number;
      time: (env: NodeJS.ProcessEnv) => Promise<number>;
    }[] = [
      { command: 'leadrelay --help', targetMs: 500, time: (e) => exitTime(['--help'], e) },
      {
        command: 'leadrelay deliveries list',
        targetMs: 500,
        time: (e) => exitTime(['deliveries', 'list', '--config', config], e),
      },
      { command: 'leadrelay serve (until /healthz 200)', targetMs: 1500, time: (e) => serveTime(config, e) },
    ];
    for (const { command, targetMs, time } of commands) {
      options.log(`startup: ${command}, ${options.runs} runs from dist/ and from the sources`);
      const compiled: number[] = [];
      const fromSource: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        compiled.push(await time(env));
        fromSource.push(await time(source));
      }
      rows.push({ command, compiledMs: median(compiled), sourceMs: median(fromSource), targetMs });
    }
    return { part: 'startup', runs: options.runs, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatStartup(result: StartupResult): string[] {
  return [
    `Start-up, median of ${result.runs} runs (from spawn to the answer)`,
    ...result.rows.map(
      (row) =>
        `  ${row.command}: ${row.compiledMs.toFixed(0)} ms compiled, ${row.sourceMs.toFixed(0)} ms from the sources (${(row.sourceMs / row.compiledMs).toFixed(1)}× faster); target < ${row.targetMs} ms: ${row.compiledMs < row.targetMs ? 'PASS' : 'MISS'}`,
    ),
  ];
}

function exitTime(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const run = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (run.status !== 0) throw new Error(`leadrelay ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return Promise.resolve(ms);
}

async function serveTime(config: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const server = await startServerProcess('leadrelay serve', {
    args: [BIN, 'serve', '--config', config],
    env,
    cwd: ROOT,
  });
  try {
    for (;;) {
      const response = await fetch(`http://127.0.0.1:${server.port}/healthz`).catch(() => undefined);
      if (response?.status === 200) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    await server.stop();
  }
}

/** One source, one webhook connector (never called), one route, a SQLite file: what `check` and `serve` load. */
function writeStartupConfig(dir: string): string {
  const file = join(dir, 'leadrelay.yaml');
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: 0 }\ndatabase: { url: ${JSON.stringify(`sqlite:${join(dir, 'leadrelay.db')}`)} }\n` +
      `sources:\n  bench:\n    verify: { scheme: standard-webhooks, secrets: [${JSON.stringify(newSecret())}] }\n` +
      'routes:\n  - on: "*"\n    to: [hook]\n',
  );
  mkdirSync(join(dir, 'connectors'));
  writeFileSync(join(dir, 'connectors', 'hook.yaml'), 'type: webhook\nurl: http://127.0.0.1:9/unused\n');
  return file;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
