import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configJsonSchemas } from '../src/config/json-schema.ts';
import { runCli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp-dir.ts';

const ROOT = join(import.meta.dirname, '..');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const run = runCli;

const dir = tempDir();
afterAll(dir.cleanup);
mkdirSync(join(dir.path, 'connectors'));
writeFileSync(
  join(dir.path, 'leadrelay.yaml'),
  `sources:\n  bot:\n    verify: { secrets: ["\${BOT_SECRET}"] }\nroutes:\n  - on: lead.qualified\n    to: [crm-hook]\n  - on: "*"\n    when: "lead.score >= 80"\n    to: [hot-leads]\n`,
);
writeFileSync(
  join(dir.path, 'connectors', 'crm-hook.yaml'),
  'type: webhook\nurl: https://crm.example.test/hook\nsecret: "${HOOK_SECRET}"\nheaders:\n  Authorization: "Bearer ${HOOK_TOKEN}"\n  X-Lead-Email: "{{ contact.email | lower }}"\n',
);
writeFileSync(
  join(dir.path, 'connectors', 'hot-leads.yaml'),
  'type: webhook\nurl: https://alerts.example.test/hot\nbody: "{{ contact.name | first_name }} scored {{ lead.score }}: {{ conversation | transcript: \\"text\\", 200 }}"\n',
);
const env = { BOT_SECRET: SECRET, HOOK_SECRET: SECRET, HOOK_TOKEN: 'tok_live_123' };
const config = join(dir.path, 'leadrelay.yaml');

describe('leadrelay check', () => {
  it('exits 0 and summarises a valid configuration', async () => {
    const result = await run(['check', '--config', config], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('connectors: crm-hook (webhook), hot-leads (webhook)');
  });

  it('exits 1 with file:line:col lines when the configuration is invalid', async () => {
    const result = await run(['check', '--config', config], { BOT_SECRET: SECRET });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${join(dir.path, 'connectors', 'crm-hook.yaml')}:3:9: secret: environment variable HOOK_SECRET is not set (use \${HOOK_SECRET:-default} for a fallback)`,
      `${join(dir.path, 'connectors', 'crm-hook.yaml')}:5:18: headers.Authorization: environment variable HOOK_TOKEN is not set (use \${HOOK_TOKEN:-default} for a fallback)`,
    ]);
  });

  it('exits 1 when the file does not exist', async () => {
    const result = await run(['check', '--config', join(dir.path, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/missing\.yaml:1:1: configuration file not found/);
  });
});

describe('leadrelay preview', () => {
  const eventFile = join(dir.path, 'event.json');
  writeFileSync(
    eventFile,
    JSON.stringify({
      id: 'evt_preview_1',
      type: 'lead.qualified',
      contact: { email: 'Dana@Acme.example', name: 'Dana Reyes' },
      conversation: {
        id: 'c1',
        messages: [{ role: 'user', text: 'We need intake automation.', at: '2026-11-25T10:01:20Z' }],
      },
      lead: { score: 91 },
    }),
  );

  it('prints the exact request of every routed connector, secrets masked, sending nothing', async () => {
    const result = await run(['preview', eventFile, '--config', config, '--json'], env);
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout);
    expect(entries.map((e: { connector: string }) => e.connector)).toEqual(['crm-hook', 'hot-leads']);
    const [hook, hot] = entries;
    expect(hook.requests[0]).toMatchObject({
      method: 'POST',
      url: 'https://crm.example.test/hook',
      headers: {
        Authorization: 'Bearer ••••••',
        'X-Lead-Email': 'dana@acme.example',
        'webhook-id': 'ev_preview',
        'webhook-signature': 'v1,…(computed at send time)',
      },
      body: { id: 'evt_preview_1', type: 'lead.qualified' },
    });
    expect(result.stdout).not.toContain('tok_live_123');
    expect(hot.requests[0].body).toBe('Dana scored 91: [10:01] Visitor: We need intake automation.');
  });

  it('prints readable blocks by default (golden file)', async () => {
    const result = await run(['preview', eventFile, '--config', config, '--connector', 'hot-leads'], env);
    expect(result.code).toBe(0);
    await expect(result.stdout).toMatchFileSnapshot('golden/preview-hot-leads.txt');
  });

  it('refuses an invalid event or an unknown connector with exit code 1', async () => {
    writeFileSync(join(dir.path, 'bad.json'), '{"type":"lead.qualified"}');
    const bad = await run(['preview', join(dir.path, 'bad.json'), '--config', config], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('contact.email: lead.qualified needs contact.email or contact.phone');
    const unknown = await run(['preview', eventFile, '--config', config, '--connector', 'hot-lead'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no connector named "hot-lead"; did you mean "hot-leads"?');
  });
});

describe('leadrelay schema', () => {
  it('writes JSON Schemas for the main file and each connector type', async () => {
    const out = join(dir.path, 'schema');
    const result = await run(['schema', '--config', config, '--out', out], env);
    expect(result.code).toBe(0);
    const main = JSON.parse(readFileSync(join(out, 'leadrelay.schema.json'), 'utf8'));
    expect(Object.keys(main.properties)).toEqual([
      'server',
      'database',
      'sources',
      'routes',
      'mapping',
      'delivery',
      'drift_watch',
      'alerts',
    ]);
    const webhook = JSON.parse(readFileSync(join(out, 'connectors', 'webhook.schema.json'), 'utf8'));
    expect(webhook.required).toEqual(['url', 'type']);
    // `${VAR}` is accepted wherever a typed value is expected.
    expect(JSON.stringify(main.properties.server.properties.port)).toContain('\\\\$\\\\{');
  });

  it('keeps the committed schemas in config/schema up to date', () => {
    for (const [name, schema] of Object.entries(configJsonSchemas())) {
      const committed = JSON.parse(readFileSync(join(ROOT, 'config', 'schema', name), 'utf8'));
      expect(committed, `config/schema/${name} is stale: run \`npx leadrelay schema\``).toEqual(schema);
    }
  });
});
