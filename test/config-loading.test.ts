import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { tempDir } from './helpers/temp-dir.ts';

const dir = tempDir();
afterAll(dir.cleanup);
mkdirSync(join(dir.path, 'connectors'));
writeFileSync(join(dir.path, 'connectors', 'slack.yaml'), 'type: webhook\nurl: http://127.0.0.1:9/\n');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

async function load(yaml: string, env: Record<string, string> = {}, name = 'leadrelay.yaml') {
  const file = join(dir.path, name);
  writeFileSync(file, yaml);
  return loadConfig(file, { env });
}

async function problems(yaml: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await load(yaml, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  }
  throw new Error('expected the configuration to be refused');
}

const VALID_SOURCE = `sources:\n  bot:\n    verify: { secrets: ["${SECRET}"] }\n`;

describe('configuration errors name file, line, column and key path', () => {
  it.each([
    [
      'a misspelled key, with a suggestion',
      `server:\n  portt: 3000\n${VALID_SOURCE}`,
      ['2:3: server.portt: unknown key "portt"; did you mean "port"?'],
    ],
    [
      'a misspelled scheme, with a suggestion',
      'sources:\n  bot:\n    verify: { scheme: standard-webhook, secrets: [x] }\n',
      [
        '3:23: sources.bot.verify.scheme: must be one of "standard-webhooks", "hmac", "token", "body_token", "none"; did you mean "standard-webhooks"?',
      ],
    ],
    [
      'a misspelled event type in a route',
      `${VALID_SOURCE}routes:\n  - on: lead.qualifed\n    to: [hubspot]\n`,
      [
        '5:9: routes[0].on: must be one of "lead.qualified", "conversation.escalated", "feedback.submitted", "*"; did you mean "lead.qualified"?',
      ],
    ],
    [
      'a secret that is not a Standard Webhooks secret',
      'sources:\n  bot:\n    verify:\n      secrets:\n        - not-a-secret\n',
      [
        '5:11: sources.bot.verify.secrets[0]: a Standard Webhooks secret looks like whsec_ followed by base64',
      ],
    ],
    [
      'an unset environment variable',
      'sources:\n  bot:\n    verify: { secrets: ["${BOT_SECRET}"] }\n',
      [
        '3:25: sources.bot.verify.secrets[0]: environment variable BOT_SECRET is not set (use ${BOT_SECRET:-default} for a fallback)',
      ],
    ],
    [
      'scheme none without insecure: true',
      'sources:\n  bot:\n    verify: { scheme: none }\n',
      [
        '3:23: sources.bot.verify.scheme: scheme "none" accepts unsigned requests from anyone; add `insecure: true` to the source to allow it',
      ],
    ],
    [
      'a bad duration and a bad size',
      `server:\n  body_limit: lots\n${VALID_SOURCE}delivery:\n  retry_schedule: [0s, 10 parsecs]\n`,
      [
        '2:15: server.body_limit: "lots" is not a size (examples: 512kb, 1mb)',
        '7:24: delivery.retry_schedule[1]: "10 parsecs" is not a duration (examples: 500ms, 10s, 5m, 2h, 1d)',
      ],
    ],
    [
      'a wrong type',
      `server:\n  port: "three thousand"\n${VALID_SOURCE}`,
      ['2:9: server.port: expected number, got string "three thousand"'],
    ],
    ['a missing required key', 'server:\n  port: 3000\n', ['1:1: sources: is required']],
    [
      'an invalid CIDR',
      `sources:\n  bot:\n    verify: { secrets: ["${SECRET}"] }\n    allow_ips: [10.0.0.0/33]\n`,
      ['4:17: sources.bot.allow_ips[0]: is not an IP address or CIDR block (e.g. 203.0.113.0/24)'],
    ],
    [
      'a route condition that does not compile',
      `${VALID_SOURCE}routes:\n  - on: "*"\n    when: "lead.score | bogus_filter"\n    to: [slack]\n`,
      [
        '6:11: routes[0].when: invalid condition: unexpected "|": a condition takes no filters (compare the field itself) (column 12 of the condition)',
      ],
    ],
    [
      'a route limited to a source that does not exist',
      `${VALID_SOURCE}routes:\n  - on: "*"\n    from: boot\n    to: [slack]\n`,
      ['6:11: routes[0].from: no source named "boot"; did you mean "bot"?'],
    ],
    [
      'broken YAML syntax',
      'server:\n  port: [3000\n',
      ['3:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ],
    ['a duplicated key', `server:\n  port: 1\n  port: 2\n${VALID_SOURCE}`, ['3:3: Map keys must be unique']],
  ])('%s', async (_label, yaml, expected) => {
    expect(await problems(yaml)).toEqual(expected);
  });

  it('prints problems as file:line:col: path: message', async () => {
    try {
      await load(`server:\n  portt: 3000\n${VALID_SOURCE}`, {}, 'printed.yaml');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toBe(
        `${join(dir.path, 'printed.yaml')}:2:3: server.portt: unknown key "portt"; did you mean "port"?`,
      );
    }
  });
});

describe('signatures that would let a replay through are refused', () => {
  it('an idempotency key built from a header the signature does not cover', async () => {
    const yaml = `sources:\n  chat:\n    format: chatwoot\n    verify: { secrets: [s3cret] }\n    map:\n      id: "{{ headers['x-chatwoot-delivery'] }}"\n      type: [{ value: lead.qualified }]\n`;
    const found = await problems(yaml);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      /^6:\d+: sources\.chat\.map\.id: the id uses headers\['x-chatwoot-delivery'\], which the signature does not cover/,
    );
  });

  it('a header the signature covers is fine (Standard Webhooks signs webhook-id)', async () => {
    const yaml = `sources:\n  own:\n    format: mapped\n    verify: { secrets: ["${SECRET}"] }\n    map:\n      id: "{{ headers['webhook-id'] }}"\n      type: [{ value: lead.qualified }]\n`;
    await expect(load(yaml)).resolves.toBeDefined();
  });

  it('an hmac timestamp that is read but not signed', async () => {
    const yaml = `sources:\n  shop:\n    verify:\n      scheme: hmac\n      header: X-Sig\n      timestamp_header: X-Time\n      secrets: [s3cret]\n`;
    const found = await problems(yaml);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/sources\.shop\.verify\.signed_content: a timestamp is read but not signed/);
  });
});

describe('interpolation and the environment', () => {
  it('fills ${VAR} and ${VAR:-default}, typing unquoted numbers', async () => {
    const config = await load(
      `server:\n  port: \${LR_PORT:-3100}\n  host: "\${LR_HOST:-127.0.0.1}"\nsources:\n  bot:\n    verify: { secrets: ["\${BOT_SECRET}"] }\n`,
      { BOT_SECRET: SECRET },
    );
    expect(config.main.server.port).toBe(3100);
    expect(config.main.server.host).toBe('127.0.0.1');
    expect(config.main.sources.bot!.verify).toMatchObject({ scheme: 'standard-webhooks', secrets: [SECRET] });
  });

  it('reads .env beside the config, with the real environment taking precedence', async () => {
    const envDir = tempDir();
    try {
      writeFileSync(join(envDir.path, '.env'), `BOT_SECRET=${SECRET}\nLR_PORT=4100\n`);
      const file = join(envDir.path, 'leadrelay.yaml');
      writeFileSync(
        file,
        `server:\n  port: \${LR_PORT}\nsources:\n  bot:\n    verify: { secrets: ["\${BOT_SECRET}"] }\n`,
      );
      expect((await loadConfig(file, { env: {} })).main.server.port).toBe(4100);
      expect((await loadConfig(file, { env: { LR_PORT: '4200' } })).main.server.port).toBe(4200);
    } finally {
      envDir.cleanup();
    }
  });

  it('lets PORT and DATABASE_URL override the file', async () => {
    const config = await load(`server:\n  port: 3000\n${VALID_SOURCE}`, {
      PORT: '3456',
      DATABASE_URL: 'sqlite:/tmp/x.db',
    });
    expect(config.main.server.port).toBe(3456);
    expect(config.main.database.url).toBe('sqlite:/tmp/x.db');
  });

  it('keeps $${VAR} as a literal', async () => {
    const config = await load(
      `sources:\n  bot:\n    verify: { scheme: token, header: X-T, secrets: ["$\${NOT_A_VAR}"] }\n`,
    );
    expect(config.main.sources.bot!.verify).toMatchObject({ secrets: ['${NOT_A_VAR}'] });
  });

  it('applies documented defaults', async () => {
    const config = await load(VALID_SOURCE);
    expect(config.main.server).toMatchObject({ port: 3000, body_limit: 1024 * 1024, trusted_proxies: [] });
    expect(config.main.database).toEqual({
      url: 'sqlite:./data/leadrelay.db',
      durability: 'full',
      busy_timeout: 5000,
    });
    expect(config.main.delivery.retry_schedule[1]).toBe(10_000);
    expect(config.main.sources.bot!.verify).toMatchObject({ tolerance: 300_000 });
  });

  it('loads the example configuration shipped in config/', async () => {
    const config = await loadConfig(join(import.meta.dirname, '..', 'config', 'leadrelay.yaml'), {
      env: { WEBSITE_BOT_SECRET: SECRET },
    });
    expect(Object.keys(config.main.sources)).toEqual(['website-bot']);
    expect(config.routes).toHaveLength(3);
  });
});
