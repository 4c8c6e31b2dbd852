import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config-error.ts';
import { configJsonSchemas } from '../src/config/json-schema.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { tempDir } from './helpers/temp-dir.ts';

/* `config/connectors/*.yaml` with `type: salesforce`, through the real loader. */

const dir = tempDir();
afterAll(dir.cleanup);
const connectors = join(dir.path, 'connectors');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MAIN = `sources:\n  bot:\n    verify: { secrets: ["${SECRET}"] }\nroutes:\n  - on: lead.qualified\n    to: [crm]\n`;
const BASE = 'type: salesforce\ninstance_url: https://acme.my.salesforce.com\n';

beforeEach(() => {
  rmSync(connectors, { recursive: true, force: true });
  mkdirSync(connectors);
  writeFileSync(join(dir.path, 'leadrelay.yaml'), MAIN);
});

async function load(text: string, env: Record<string, string> = {}) {
  writeFileSync(join(connectors, 'crm.yaml'), text);
  return loadConfig(join(dir.path, 'leadrelay.yaml'), { env });
}

async function problems(text: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await load(text, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  }
  throw new Error('expected the configuration to be refused');
}

describe('salesforce connector files', () => {
  it('needs only instance_url and a way to sign in; the defaults suit Salesforce', async () => {
    const config = await load(`${BASE}access_token: "\${SF_TOKEN}"\n`, { SF_TOKEN: 'tok' });
    const connector = config.connectors.get('crm')!;
    expect(connector.type).toBe('salesforce');
    expect(connector.limits).toEqual({ concurrency: 4, rate: { requests: 10, perMs: 1000 }, batchSize: 200 });
    const [lookups] = connector.preview({
      event: { id: 'e1', type: 'lead.qualified', contact: { email: 'dana@acme.example' } },
      eventId: 'ev_1',
      deliveryId: 1,
      source: 'bot',
      receivedAt: 0,
      attempt: 1,
      related: {},
    });
    // API version 62.0 unless told otherwise (jsforce alone would use 50.0), for the composite call
    // and for the look-ups it carries.
    expect(lookups!.url).toBe('https://acme.my.salesforce.com/services/data/v62.0/composite');
    expect(JSON.stringify(lookups!.body)).toContain('"url":"/services/data/v62.0/query?q=');
  });

  it('reads `api_version: 61.0` (a YAML number) as "61.0"', async () => {
    const config = await load(`${BASE}access_token: tok\napi_version: 61.0\n`);
    const [lookups] = config.connectors.get('crm')!.preview({
      event: { id: 'e1', type: 'lead.qualified', contact: { email: 'dana@acme.example' } },
      eventId: 'ev_1',
      deliveryId: 1,
      source: 'bot',
      receivedAt: 0,
      attempt: 1,
      related: {},
    });
    expect(lookups!.url).toContain('/services/data/v61.0/composite');
    expect(JSON.stringify(lookups!.body)).toContain('"url":"/services/data/v61.0/query?q=');
  });

  const key = generateKeyPairSync('rsa', { modulusLength: 1024 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

  it.each([
    [
      'no way to sign in',
      BASE,
      [
        '1:1: needs a way to sign in: access_token, or client_id + client_secret (client credentials), or client_id + username + private_key (JWT bearer), or refresh_token + client_id',
      ],
    ],
    [
      'a secret left empty by its variable',
      `${BASE}access_token: "\${SF_TOKEN:-}"\n`,
      [
        '1:1: needs a way to sign in: access_token, or client_id + client_secret (client credentials), or client_id + username + private_key (JWT bearer), or refresh_token + client_id',
      ],
    ],
    [
      'client_secret without client_id',
      `${BASE}client_secret: s\n`,
      ['3:16: client_secret: needs client_id too (client credentials)'],
    ],
    [
      'a JWT bearer flow without its username',
      `${BASE}client_id: c\nprivate_key: "${key.trim().replaceAll('\n', '\\n')}"\n`,
      ['4:14: private_key: the JWT bearer flow also needs username'],
    ],
    [
      'a private key that is not one',
      `${BASE}client_id: c\nusername: u@acme.example\nprivate_key: not a key\n`,
      [expect.stringMatching(/^5:14: private_key: is not a PEM private key \(/)],
    ],
    [
      'two ways to sign in',
      `${BASE}client_id: c\nrefresh_token: r\nusername: u@acme.example\nprivate_key: k\n`,
      [
        expect.stringMatching(
          /^6:14: private_key: is not used with refresh_token; choose one of: access_token, /,
        ),
      ],
    ],
    [
      'an old API version',
      `${BASE}access_token: t\napi_version: "45.0"\n`,
      ['4:14: api_version: needs API version 46.0 or later (sObject Collections upsert)'],
    ],
    [
      'a malformed API version',
      `${BASE}access_token: t\napi_version: v62\n`,
      ['4:14: api_version: an API version looks like "62.0"'],
    ],
    [
      'an object leadrelay does not write',
      `${BASE}access_token: t\nobject: Account\n`,
      ['4:9: object: must be one of "Lead", "Contact"'],
    ],
    [
      'a misspelled key',
      `${BASE}access_token: t\nplaceholder: { Company: x }\n`,
      ['4:1: placeholder: unknown key "placeholder"; did you mean "placeholders"?'],
    ],
    [
      'external ID matching without its field',
      `${BASE}access_token: t\nmatch: { by: external_id }\n`,
      ['4:8: match.external_id_field: is required when match.by is external_id'],
    ],
    [
      'a field name Salesforce would refuse',
      `${BASE}access_token: t\nfields:\n  Lead:\n    "Last Name": x\n`,
      ['6:18: fields.Lead.Last Name: "Last Name" is not a Salesforce field API name'],
    ],
    [
      'a broken template',
      `${BASE}access_token: t\ntask:\n  subject: "{{ contact.name | titlecase }}"\n`,
      [expect.stringMatching(/^5:12: task\.subject: invalid template: unknown filter "titlecase"/)],
    ],
  ])('refuses %s, at its line and column', async (_name, text, expected) => {
    expect(await problems(text)).toEqual(expected);
  });

  it('has a JSON Schema for editors, committed and current', () => {
    const schema = configJsonSchemas()['connectors/salesforce.schema.json'] as {
      properties: Record<string, { default?: unknown }>;
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'instance_url',
        'api_version',
        'object',
        'access_token',
        'client_id',
        'client_secret',
        'username',
        'private_key',
        'refresh_token',
        'login_url',
        'match',
        'fields',
        'placeholders',
        'task',
        'batch_size',
      ]),
    );
    expect(schema.properties.api_version!.default).toBe('62.0');
    const committed = JSON.parse(
      readFileSync(
        join(import.meta.dirname, '..', 'config', 'schema', 'connectors', 'salesforce.schema.json'),
        'utf8',
      ),
    );
    expect(committed).toEqual(schema);
  });
});
