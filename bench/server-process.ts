import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  name: string;
  pid: number;
  /** 0 for a process that logs its ready message without a port (`leadrelay worker`). */
  port: number;
  /** Settles when the process has exited, however it ended. */
  exited: Promise<void>;
  /** CPU seconds (user + system, all threads) the process has used so far. */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it wrote, for error messages. */
  output(): string;
}

const running = new Set<ChildProcess>();
// A crashed or interrupted bench must not leave servers holding ports and files.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a server and resolves once it logs `{"msg":"listening","port":N}` on
 * stdout (both leadrelay and the bare server do), so PORT=0 can be used and
 * nothing races the bind. `readyMessage` waits for another `msg` instead,
 * e.g. `worker started` from `leadrelay worker`, which serves no HTTP.
 */
export function startServerProcess(
  name: string,
  options: { args: string[]; env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number; readyMessage?: string },
): Promise<ServerProcess> {
  const { args, env, cwd, timeoutMs = 20_000, readyMessage = 'listening' } = options;
  const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 50) tail.shift();
  };
  // Both streams are drained for the whole run: a full pipe would stall the server's logger.
  createInterface({ input: child.stderr! }).on('line', remember);
  const stdout = createInterface({ input: child.stdout! });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  return new Promise<ServerProcess>((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => fail(`did not log "${readyMessage}" within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${name} ${why}\n${tail.join('\n')}`));
    };
    const earlyExit = (code: number | null, signal: string | null) =>
      fail(`exited before logging "${readyMessage}" (code ${code}, signal ${signal})`);
    child.once('exit', earlyExit);
    child.once('error', (error) => fail(`could not start: ${error.message}`));
    stdout.on('line', (line) => {
      remember(line);
      const port = listening ? undefined : readyPort(line, readyMessage);
      if (port === undefined) return;
      listening = true;
      clearTimeout(timer);
      child.off('exit', earlyExit);
      resolve({
        name,
        pid: child.pid!,
        port,
        exited,
        cpuSeconds: () => cpuSeconds(child.pid!),
        output: () => tail.join('\n'),
        async stop(graceMs = 10_000) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}

/** The port in a ready line (0 when it names none, except for "listening", which must), else undefined. */
function readyPort(line: string, readyMessage: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: unknown; port?: unknown };
    if (record.msg !== readyMessage) return undefined;
    if (typeof record.port === 'number') return record.port;
    return readyMessage === 'listening' ? undefined : 0;
  } catch {
    return undefined;
  }
}

/** From /proc: fields 14 and 15 of /proc/PID/stat are user and system time in clock ticks. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces, so count from the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN; // not Linux, or the process is gone
  }
}

// USER_HZ is 100 on every mainstream Linux build; Node has no sysconf binding to ask.
const CLOCK_TICKS_PER_SECOND = 100;
