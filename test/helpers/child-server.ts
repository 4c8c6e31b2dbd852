import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'leadrelay.js');

export interface ChildServer {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

export interface ChildProcessRun {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** Runs `leadrelay ARGS…` in its own process, collecting its output (async: never blocks the test's event loop). */
export function spawnLeadrelay(
  args: string[],
  env: Record<string, string | undefined> = {},
): ChildProcessRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, output: () => output, exited };
}

/** Runs `leadrelay <command>` in its own process and waits for it to log that it listens. */
export async function startChildServer(
  configFile: string,
  options: { command?: string[]; env?: Record<string, string>; ready?: string } = {},
): Promise<ChildServer> {
  const {
    child,
    output: collected,
    exited,
  } = spawnLeadrelay([...(options.command ?? ['serve']), '--config', configFile], {
    PORT: '0',
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const url = await new Promise<string>((resolve, reject) => {
    // Start-up compiles TypeScript: seconds on a quiet machine, many more on a loaded one.
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${collected()}`)), 90_000);
    const check = () => {
      const line = collected()
        .split('\n')
        .find((l) => l.includes(options.ready ?? '"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(JSON.parse(line).url ?? '');
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${collected()}`));
    });
  });
  return { child, url, output: collected, exited };
}

/**
 * A `leadrelay worker` process on the configuration, ready once it logs that it
 * started; SIGKILLed (and awaited) by the test's cleanups, pass or fail.
 *
 * @example
 * const first = await startWorkerProcess(service.configFile, cleanups);
 * first.child.kill('SIGKILL');
 */
export async function startWorkerProcess(
  configFile: string,
  cleanups: (() => Promise<unknown> | unknown)[],
): Promise<ChildServer> {
  const child = await startChildServer(configFile, { command: ['worker'], ready: '"msg":"worker started"' });
  cleanups.push(async () => {
    child.child.kill('SIGKILL');
    await child.exited;
  });
  return child;
}
