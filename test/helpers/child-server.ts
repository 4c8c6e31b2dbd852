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

/** Runs `leadrelay <command>` in its own process and waits for it to log that it listens. */
export async function startChildServer(
  configFile: string,
  options: { command?: string[]; env?: Record<string, string>; ready?: string } = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, [BIN, ...(options.command ?? ['serve']), '--config', configFile], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...options.env },
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
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const check = () => {
      const line = output.split('\n').find((l) => l.includes(options.ready ?? '"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(JSON.parse(line).url ?? '');
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}
