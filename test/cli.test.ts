import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { spawnLeadrelay } from './helpers/child-server.ts';
import { runCli } from './helpers/cli.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { tempDir } from './helpers/temp-dir.ts';

const run = runCli;

describe('leadrelay send-test', () => {
  let service: TestService;
  const secret = newSecret();

  beforeAll(async () => {
    service = await startTestService({
      sources: { 'website-bot': { verify: { secrets: [secret] } } },
      routes: [
        { on: 'lead.qualified', to: ['hubspot'] },
        { on: 'conversation.escalated', to: ['slack-support'] },
      ],
    });
  });
  afterAll(() => service.close());

  it('signs and posts a sample of each event type, printing each response', async () => {
    const result = await run([
      'send-test',
      '--config',
      service.configFile,
      '--url',
      service.url,
      '--wait',
      '0',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/lead\.qualified\s+→ 202 \{"id":"ev_\w+","deliveries":1\}/);
    expect(result.stdout).toMatch(/conversation\.escalated\s+→ 202/);
    expect(result.stdout).toMatch(/feedback\.submitted\s+→ 202/);
    expect(await service.count('events')).toBe(3);
  });

  it('sends one type when asked, and refuses an unknown one with exit code 1', async () => {
    const one = await run([
      'send-test',
      '--config',
      service.configFile,
      '--url',
      service.url,
      '--type',
      'conversation.escalated',
      '--wait',
      '0',
    ]);
    expect(one.code).toBe(0);
    expect(one.stdout.trim().split('\n')).toHaveLength(1);
    const bad = await run([
      'send-test',
      '--config',
      service.configFile,
      '--url',
      service.url,
      '--type',
      'lead.qualifed',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--type must be one of/);
  });

  it('exits 2 when no server answers', async () => {
    const result = await run(['send-test', '--config', service.configFile, '--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/could not reach/);
  });
});

describe('leadrelay send-test follows what it sent', () => {
  let service: TestService;
  let receiver: Server;
  const secret = newSecret();

  beforeAll(async () => {
    receiver = createHttpServer((_request, response) => response.writeHead(200).end('ok'));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    // A port where nothing listens (fetch refuses well-known ports such as 9 outright).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    service = await startTestService(
      {
        sources: { 'website-bot': { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['receiver', 'forward'] }],
      },
      {
        worker: true,
        connectors: {
          receiver: { type: 'webhook', url: `http://127.0.0.1:${port}/hook` },
          // Where the example configuration's forward connector points when nothing runs there.
          forward: { type: 'webhook', url: `http://127.0.0.1:${closedPort}/leadrelay` },
        },
      },
    );
  });
  afterAll(async () => {
    await service.close();
    receiver.close();
  });

  it('prints each delivery: delivered, or the failed attempt with its next try and what to do', async () => {
    const result = await run([
      'send-test',
      '--config',
      service.configFile,
      '--url',
      service.url,
      '--type',
      'lead.qualified',
      '--wait',
      '120',
    ]);
    expect(result.code).toBe(0);
    const id = /"id":"(ev_\w+)"/.exec(result.stdout)?.[1];
    expect(id).toBeDefined();
    expect(result.stdout).toContain(`${id} → receiver: delivered`);
    expect(result.stdout).toMatch(
      new RegExp(`${id} → forward: attempt 1 failed: .*connection refused.*; next try in \\d+ s`),
    );
    expect(result.stdout).toContain('npx leadrelay sandbox webhook');
  });

  it('refuses a mapped source, whose mapping would ignore every canonical sample, and says what to do', async () => {
    const file = join(service.dir, 'mapped.yaml');
    writeFileSync(
      file,
      stringify({
        database: { url: `sqlite:${join(service.dir, 'unused.sqlite')}` },
        sources: { chat: { format: 'chatwoot', verify: { secrets: [secret] } } },
      }),
    );
    const result = await run(['send-test', '--config', file, '--source', 'chat']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('source "chat" takes chatwoot\'s own payloads (format: chatwoot)');
    expect(result.stderr).toContain('leadrelay preview --source chat PAYLOAD.json');
  });
});

describe('exit codes and configuration errors', () => {
  const dir = tempDir();
  afterAll(dir.cleanup);

  it('exits 1 with file:line:col lines for an invalid configuration', async () => {
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(file, 'server:\n  prot: 1\nsources: {}\n');
    const result = await run(['migrate', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`${file}:2:3: server.prot: unknown key "prot"; did you mean "port"?`);
  });

  it('migrate creates the database and is idempotent', async () => {
    const file = join(dir.path, 'ok.yaml');
    writeFileSync(
      file,
      stringify({ database: { url: `sqlite:${join(dir.path, 'db.sqlite')}` }, sources: {} }),
    );
    expect((await run(['migrate', '--config', file])).stdout.trim()).toBe(
      'applied: 0001-initial, 0002-raw-payloads, 0003-event-corrections, 0004-identities, 0005-people',
    );
    expect((await run(['migrate', '--config', file])).stdout.trim()).toBe('database is up to date');
  });

  it('takes the config path from LEADRELAY_CONFIG when --config is absent', async () => {
    const file = join(dir.path, 'env.yaml');
    writeFileSync(
      file,
      stringify({ database: { url: `sqlite:${join(dir.path, 'env.sqlite')}` }, sources: {} }),
    );
    expect((await run(['migrate'], { LEADRELAY_CONFIG: file })).code).toBe(0);
  });

  it('serve exits 2 with a plain reason when its port is taken, instead of living on as a worker', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const file = join(dir.path, 'busy.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port },
        database: { url: `sqlite:${join(dir.path, 'busy.sqlite')}` },
        sources: {},
      }),
    );
    const serve = spawnLeadrelay(['serve', '--config', file], { PORT: undefined });
    try {
      // Before the fix it never exited; vitest's timeout would fail the test.
      expect(await serve.exited).toBe(2);
      expect(serve.output()).toContain(
        `leadrelay: cannot listen on 127.0.0.1:${port}: the address is already in use`,
      );
    } finally {
      serve.child.kill('SIGKILL');
      taken.close();
    }
  }, 60_000);

  it('exits 1 for an unknown command', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
