import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN_FILE_KEYS } from '../src/config/database-schema.ts';
import { mainConfigSchema } from '../src/config/main-schema.ts';
import { runCli } from './helpers/cli.ts';
import { newSecret } from './helpers/harness.ts';
import { tempDir } from './helpers/temp-dir.ts';

// Start-up is also recovery time (a restarted process) and what every CLI call
// costs: the command runs compiled dist/ (built by the suite's global setup, as
// `npm install` builds it) and each command loads only what it needs. Times are
// measured in `npm run bench -- --only startup`; these tests pin what is loaded.

const dir = tempDir('leadrelay-start-up-');
afterAll(() => dir.cleanup());
const HOOK = join(import.meta.dirname, 'helpers', 'register-module-log.mjs');
let count = 0;

function configWith(
  connectorYaml: string,
  database = `{ url: "sqlite:${join(dir.path, 'lr.db')}" }`,
): string {
  const home = join(dir.path, `config-${++count}`);
  mkdirSync(join(home, 'connectors'), { recursive: true });
  const file = join(home, 'leadrelay.yaml');
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: 0 }\ndatabase: ${database}\n` +
      `sources:\n  site:\n    verify: { secrets: [${JSON.stringify(newSecret())}] }\n` +
      'routes:\n  - on: "*"\n    to: [crm]\n',
  );
  writeFileSync(join(home, 'connectors', 'crm.yaml'), connectorYaml);
  return file;
}

async function modulesOf(args: string[], env: Record<string, string> = {}) {
  const log = join(dir.path, `modules-${++count}.log`);
  const result = await runCli(args, { LEADRELAY_MODULE_LOG: log, NODE_OPTIONS: `--import=${HOOK}`, ...env });
  expect(result.code, result.stderr).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const HEAVY = [
  '/node_modules/kysely/',
  '/node_modules/koa/',
  '/node_modules/@hubspot/',
  '/node_modules/jsforce/',
];

describe('start-up', () => {
  it('runs the compiled CLI from dist/, and the TypeScript sources when asked to', async () => {
    const compiled = await modulesOf(['--help']);
    expect(compiled.some((url) => url.endsWith('/dist/src/cli/main.js'))).toBe(true);
    expect(compiled.some((url) => url.endsWith('/src/cli/main.ts'))).toBe(false);
    const fromSource = await modulesOf(['--help'], { LEADRELAY_FROM_SOURCE: '1' });
    expect(fromSource.some((url) => url.endsWith('/src/cli/main.ts'))).toBe(true);
  });

  it('--help loads no database, server, connector or vendor SDK', async () => {
    const modules = await modulesOf(['--help']);
    expect(
      modules.filter((url) => HEAVY.some((heavy) => url.includes(heavy)) || url.includes('/connectors/')),
    ).toEqual([]);
  });

  it('deliveries list loads the database but no connector, vendor SDK or server', async () => {
    const config = configWith('type: webhook\nurl: http://127.0.0.1:9/in\n');
    expect((await runCli(['migrate', '--config', config])).code).toBe(0);
    const modules = await modulesOf(['deliveries', 'list', '--config', config]);
    expect(modules.some((url) => url.includes('/node_modules/kysely/'))).toBe(true);
    const unwanted = modules.filter(
      (url) =>
        url.includes('/connectors/') ||
        [
          '/node_modules/koa/',
          '/node_modules/@hubspot/',
          '/node_modules/jsforce/',
          '/node_modules/@slack/',
          '/node_modules/pg/',
        ].some((heavy) => url.includes(heavy)),
    );
    expect(unwanted).toEqual([]);
  });

  it('deliveries list answers while a connector file is broken; a broken database section is named by file:line:col', async () => {
    const valid = configWith('type: webhook\nurl: http://127.0.0.1:9/in\n');
    expect((await runCli(['migrate', '--config', valid])).code).toBe(0);
    const broken = configWith('type: webhook\nurl: 42\nunknown_key: true\n');
    expect((await runCli(['check', '--config', broken])).code).toBe(1);
    const listed = await runCli(['deliveries', 'list', '--config', broken]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('No deliveries match.');

    const badDatabase = configWith('type: webhook\nurl: http://127.0.0.1:9/in\n', '{ durability: fast }');
    const refused = await runCli(['deliveries', 'list', '--config', badDatabase]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /leadrelay\.yaml:2:\d+: database\.durability: must be one of "full", "normal"/,
    );
  });

  it('deliveries list refuses a misspelled database section and a database that does not exist, rather than show an empty queue', async () => {
    const misspelled = configWith('type: webhook\nurl: http://127.0.0.1:9/in\n');
    writeFileSync(misspelled, readFileSync(misspelled, 'utf8').replace('database:', 'databse:'));
    const typo = await runCli(['deliveries', 'list', '--config', misspelled]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(
      /leadrelay\.yaml:2:1: databse: unknown key "databse"; did you mean "database"\?/,
    );

    const nowhere = join(dir.path, 'never-created.db');
    const missing = configWith('type: webhook\nurl: http://127.0.0.1:9/in\n', `{ url: "sqlite:${nowhere}" }`);
    const refused = await runCli(['deliveries', 'list', '--config', missing]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no database at ${nowhere}`);
    expect(existsSync(nowhere)).toBe(false);
  });

  it('knows every top-level key of the main file (a reader of database: alone refuses the others by name)', () => {
    expect([...MAIN_FILE_KEYS]).toEqual(Object.keys(mainConfigSchema.shape));
  });
});
