import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type RawRequest, rawPost } from '../helpers/raw-request.ts';

/*
 * Design note. An attacker on the open internet is another machine: the
 * signed senders that measure whether leadrelay keeps serving must not share
 * an event loop with it. In one process, on a loaded machine, writing 300
 * stalled 1 MB uploads starved the test's own senders: 42 of the ~4,000
 * events they should have sent in 20 s, p99 8.7 s, and their kept-alive
 * connections reused after the server had closed them — a measure of the
 * test process, not of the server. So each attack runs in a process of its
 * own (this file, run by `startAttacker`), competing with leadrelay for the
 * CPU as a real attacker's traffic does, but not with the senders.
 */

/** One attack: `connections` kept open from `addresses`, each reopened 200 ms after the server closes it. */
export interface AttackSpec {
  url: string;
  connections: number;
  addresses: string[];
  /**
   * `dribble`: declare 100 kB and send one byte every 2 s;
   * `stall`: declare 1,000,000 bytes, send 999,000 at once, then nothing.
   */
  kind: 'dribble' | 'stall';
}

export interface Attacker {
  /** Ends the attack (closing its connections) and resolves with how many connections it opened. */
  stop(): Promise<number>;
  child: ChildProcess;
}

/** Starts `spec` in a child process; resolves once its connections are being opened. */
export async function startAttacker(spec: AttackSpec): Promise<Attacker> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(spec)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let opened: number | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      const count = /^opened (\d+)$/.exec(line)?.[1];
      if (count !== undefined) opened = Number(count);
    });
    void exited.then(() =>
      reject(new Error(`the attacker exited before it started (code ${child.exitCode})`)),
    );
  });
  await ready;
  return {
    child,
    async stop() {
      // Closing its stdin is the attacker's signal to stop and report.
      child.stdin!.end();
      await exited;
      if (opened === undefined)
        throw new Error(`the attacker exited without reporting (code ${child.exitCode})`);
      return opened;
    },
  };
}

function attack(spec: AttackSpec): { stop(): number } {
  let stopped = false;
  let opened = 0;
  const live = new Set<RawRequest>();
  const dribbling = new Set<RawRequest>();
  const ticker =
    spec.kind === 'dribble'
      ? setInterval(() => {
          for (const request of dribbling) if (!request.write('x')) dribbling.delete(request);
        }, 2_000)
      : undefined;
  const open = async (from: string): Promise<RawRequest> => {
    const target = `${spec.url}/webhooks/site`;
    if (spec.kind === 'dribble') {
      const request = await rawPost(target, { from, contentLength: 100_000 });
      request.write('{');
      dribbling.add(request);
      return request;
    }
    const request = await rawPost(target, { from, contentLength: 1_000_000 });
    request.write(Buffer.alloc(999_000, 'x'));
    return request;
  };
  const keep = async (slot: number) => {
    while (!stopped) {
      let request: RawRequest;
      try {
        request = await open(spec.addresses[slot % spec.addresses.length]!);
      } catch {
        await pause(100);
        continue;
      }
      opened++;
      live.add(request);
      await request.answer;
      live.delete(request);
      dribbling.delete(request);
      if (!stopped) await pause(200);
    }
  };
  for (let slot = 0; slot < spec.connections; slot++) void keep(slot);
  return {
    stop() {
      stopped = true;
      clearInterval(ticker);
      for (const request of live) request.destroy();
      return opened;
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const running = attack(JSON.parse(process.argv[2]!) as AttackSpec);
  process.stdout.write('ready\n');
  // The end of stdin is the signal to stop — also when the test process died without saying so.
  process.stdin.resume();
  process.stdin.once('end', () => {
    process.stdout.write(`opened ${running.stop()}\n`, () => process.exit(0));
  });
}
