import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { builtInTypeNames } from '../connectors/registry.ts';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { tempDir } from './helpers/temp-dir.ts';

const BUILT_IN = builtInTypeNames().join(', ');
const dir = tempDir();
afterAll(dir.cleanup);
const connectors = join(dir.path, 'connectors');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MAIN = `sources:\n  bot:\n    verify: { secrets: ["${SECRET}"] }\nroutes:\n  - on: lead.qualified\n    to: [forward]\n`;

beforeEach(() => {
  rmSync(connectors, { recursive: true, force: true });
  mkdirSync(connectors);
  writeFileSync(join(dir.path, 'leadrelay.yaml'), MAIN);
});

async function problems(files: Record<string, string>, main = MAIN): Promise<string[]> {
  writeFileSync(join(dir.path, 'leadrelay.yaml'), main);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(connectors, name), text);
  try {
    await loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(
      (p) =>
        `${p.file.replace(`${dir.path}/`, '')}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
    );
  }
  throw new Error('expected the configuration to be refused');
}

describe('connector files', () => {
  it.each([
    [
      'a route naming a missing connector, with a suggestion',
      { 'forwrd.yaml': 'type: webhook\nurl: https://example.test/hook\n' },
      ['leadrelay.yaml:6:10: routes[0].to[0]: no connector named "forward"; did you mean "forwrd"?'],
    ],
    [
      'a misspelled connector type',
      { 'forward.yaml': 'type: webhok\nurl: https://example.test/hook\n' },
      [
        `connectors/forward.yaml:1:7: type: unknown connector type "webhok"; did you mean "webhook"?; built in: ${BUILT_IN}`,
      ],
    ],
    [
      'a missing type',
      { 'forward.yaml': 'url: https://example.test/hook\n' },
      [`connectors/forward.yaml:1:1: type: is required: one of ${BUILT_IN}, or a module path`],
    ],
    [
      'a misspelled key in a connector file',
      { 'forward.yaml': 'type: webhook\nurl: https://example.test/hook\nheaderz: {}\n' },
      ['connectors/forward.yaml:3:1: headerz: unknown key "headerz"; did you mean "headers"?'],
    ],
    [
      'an unknown filter in a connector template',
      {
        'forward.yaml':
          'type: webhook\nurl: https://example.test/hook\nheaders:\n  X-Lead: "{{ contact.email | lowercase }}"\n',
      },
      [
        'connectors/forward.yaml:4:11: headers.X-Lead: invalid template: unknown filter "lowercase"; did you mean "downcase"?',
      ],
    ],
    [
      'a template syntax error',
      { 'forward.yaml': 'type: webhook\nurl: https://example.test/hook\nbody: "{{ contact.email "\n' },
      [
        'connectors/forward.yaml:3:7: body: invalid template: output "{{ contact.email " not closed, line:1, col:1',
      ],
    ],
    [
      'an invalid URL',
      { 'forward.yaml': 'type: webhook\nurl: not a url\n' },
      ['connectors/forward.yaml:2:6: url: must be an http(s) URL'],
    ],
    [
      'a bad rate limit',
      {
        'forward.yaml':
          'type: webhook\nurl: https://example.test/hook\nrate_limit: { requests: 0, per: 1s }\n',
      },
      ['connectors/forward.yaml:3:25: rate_limit.requests: Too small: expected number to be >=1'],
    ],
    [
      'a module that is not there',
      { 'forward.yaml': 'type: ./nowhere.js\n' },
      [
        expect.stringMatching(
          /^connectors\/forward\.yaml:1:7: type: could not load connector module: Cannot find module/,
        ),
      ],
    ],
  ])('%s', async (_label, files, expected) => {
    expect(await problems(files)).toEqual(expected);
  });

  it('loads a third-party connector type from a module path', async () => {
    // By absolute path here; relative paths (`type: ./echo.js`) resolve from the connector file's folder.
    writeFileSync(
      join(connectors, 'forward.yaml'),
      `type: ${join(import.meta.dirname, 'fixtures', 'connectors', 'echo-connector.ts')}\nmessage: "hello {{ contact.name | first_name }}"\n`,
    );
    const config = await loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} });
    const echo = config.connectors.get('forward')!;
    expect(echo.type).toBe('echo');
    const result = await echo.deliver({
      event: { contact: { name: 'Dana Reyes' } },
      eventId: 'ev_1',
      deliveryId: 1,
      source: 'bot',
      receivedAt: 0,
      attempt: 1,
      related: {},
    });
    expect(result.summary).toBe('hello Dana');
  });

  it('validates a third-party type against its own schema', async () => {
    const module = join(import.meta.dirname, 'fixtures', 'connectors', 'echo-connector.ts');
    expect(await problems({ 'forward.yaml': `type: ${module}\nmesage: hi\n` })).toEqual([
      'connectors/forward.yaml:1:1: message: is required',
      'connectors/forward.yaml:2:1: mesage: unknown key "mesage"; did you mean "message"?',
    ]);
  });

  it('refuses a links_from that names no connector, at its line', async () => {
    expect(
      await problems({
        'forward.yaml': 'type: webhook\nurl: https://example.test/hook\n',
        'hubspot.yaml': 'type: webhook\nurl: https://example.test/crm\n',
        'alerts.yaml':
          'type: slack\ntoken: xoxb-test\nchannel: "#sales"\nlinks_from:\n  - hubspot\n  - hubsopt\n',
      }),
    ).toEqual([
      'connectors/alerts.yaml:6:5: links_from[1]: no connector named "hubsopt"; did you mean "hubspot"?',
    ]);
  });

  it('reports problems of the main file and connector files together', async () => {
    const found = await problems(
      { 'forward.yaml': 'type: webhook\nurl: nope\n' },
      `server:\n  prot: 1\n${MAIN}`,
    );
    expect(found).toEqual([
      'leadrelay.yaml:2:3: server.prot: unknown key "prot"; did you mean "port"?',
      'connectors/forward.yaml:2:6: url: must be an http(s) URL',
    ]);
  });
});
