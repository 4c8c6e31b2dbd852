import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { runCli } from './helpers/cli.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';
import { postSigned } from './reliability/common.ts';

// The vendor sandboxes are test doubles: `serve`, `worker` and every command
// but `demo` must run without loading a line of them. Each command runs with
// a module hook that logs every module it loads (test/helpers/module-log-hooks.mjs).

const secret = newSecret();
const cleanups = cleanupsAfter('all');
const logs = tempDir('leadrelay-module-log-');
afterAll(() => logs.cleanup());
const HOOK = join(import.meta.dirname, 'helpers', 'register-module-log.mjs');
let count = 0;

/** Whether `modules` holds this source module, run from the sources (.ts) or compiled (dist/…/.js). */
function loaded(modules: string[], module: string): boolean {
  return modules.some((url) => url.endsWith(`/${module}.ts`) || url.endsWith(`/dist/${module}.js`));
}

function logged(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

function moduleLogEnv(): { env: Record<string, string>; file: string } {
  const file = join(logs.path, `modules-${++count}.log`);
  return { file, env: { LEADRELAY_MODULE_LOG: file, NODE_OPTIONS: `--import=${HOOK}` } };
}

let service: TestService;

describe('commands other than demo load no sandbox code', () => {
  it('serve, with an event delivered through every connector type', async () => {
    service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['hook', 'hubspot', 'salesforce', 'slack'] }],
        delivery: { poll_interval: '100ms', retry_schedule: ['0s', '1h'] },
      },
      {
        // Closed ports: the deliveries fail, after every connector's code has run.
        connectors: {
          hook: { type: 'webhook', url: 'http://127.0.0.1:9/in' },
          hubspot: { type: 'hubspot', access_token: 'pat-x', base_url: 'http://127.0.0.1:9' },
          salesforce: {
            type: 'salesforce',
            instance_url: 'http://127.0.0.1:9',
            client_id: 'id',
            client_secret: 'secret',
          },
          slack: { type: 'slack', token: 'xoxb-x', base_url: 'http://127.0.0.1:9/api/', channel: '#sales' },
        },
      },
    );
    cleanups.push(() => service.close());
    const { env, file } = moduleLogEnv();
    const server = await startChildServer(service.configFile, { env });
    cleanups.push(() => server.child.kill('SIGKILL'));
    const event = leadEvent();
    expect((await postSigned(server.url, secret, event)).status).toBe(202);
    // Every connector tried (and failed against the closed port) before we look.
    await until(async () => {
      const rows = await service.store.db.selectFrom('attempts').select('id').execute();
      return rows.length >= 4;
    }, 'an attempt by every connector');
    server.child.kill('SIGKILL');
    const modules = logged(file);
    expect(loaded(modules, 'connectors/hubspot/index')).toBe(true);
    expect(loaded(modules, 'connectors/slack/index')).toBe(true);
    expect(modules.filter((url) => url.includes('/sandboxes/'))).toEqual([]);
  });

  it('worker, check, preview and deliveries list', async () => {
    const { env, file } = moduleLogEnv();
    const worker = await startChildServer(service.configFile, {
      command: ['worker'],
      ready: '"msg":"worker started"',
      env,
    });
    worker.child.kill('SIGKILL');
    await worker.exited;
    const eventFile = join(logs.path, 'event.json');
    writeFileSync(eventFile, JSON.stringify(leadEvent()));
    for (const args of [['check'], ['preview', eventFile], ['deliveries', 'list']]) {
      const result = await runCli([...args, '--config', service.configFile], env);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    const modules = logged(file);
    expect(loaded(modules, 'src/cli/main')).toBe(true);
    expect(modules.filter((url) => url.includes('/sandboxes/'))).toEqual([]);
  });
});
