import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from './helpers/cli.ts';
import { startTestService, type TestService } from './helpers/harness.ts';
import { chatwootHeaders } from './helpers/sign.ts';

/*
 * `leadrelay preview --event ID`: an event that really arrived — an ignored
 * one too — run through the configuration files as they are *now*, so an
 * admin can try an edited mapping on real traffic. The payloads are Chatwoot's
 * (test/fixtures/sources/README.md).
 */

const SECRET = 'chatwoot-webhook-secret-for-preview';
const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, 'fixtures', 'sources', `${name}.json`), 'utf8');

let service: TestService;
let ignoredId: string;
let escalationId: string;

async function postChatwoot(body: string): Promise<string> {
  const response = await service.post('chatwoot', body, chatwootHeaders(SECRET, body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

beforeAll(async () => {
  service = await startTestService({
    sources: { chatwoot: { format: 'chatwoot', verify: { secrets: [SECRET] } } },
    routes: [{ on: '*', to: ['crm'] }],
  });
  ignoredId = await postChatwoot(fixture('chatwoot-message-created'));
  escalationId = await postChatwoot(fixture('chatwoot-conversation-status-changed-open'));
});
afterAll(() => service.close());

/** The service's configuration with `edit` applied, written beside it (same database, same connectors). */
interface EditableConfig {
  sources: Record<string, Record<string, unknown>>;
  routes: unknown[];
}

function editedConfig(edit: (config: EditableConfig) => void): string {
  const config = parse(readFileSync(service.configFile, 'utf8')) as EditableConfig;
  edit(config);
  const file = join(service.dir, `edited-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(config));
  return file;
}

async function previewJson(id: string, configFile: string) {
  const result = await runCli(['preview', '--event', id, '--config', configFile, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('preview --event: real events through the files on disk now', () => {
  it('shows an ignored payload as still ignored under the unchanged configuration', async () => {
    const preview = await previewJson(ignoredId, service.configFile);
    expect(preview).toMatchObject({
      id: ignoredId,
      source: 'chatwoot',
      stored: { status: 'ignored' },
      input: 'platform payload',
      outcome: { kind: 'ignored', reason: 'no type rule matched' },
      connectors: [],
    });
  });

  it('runs a kept ignored payload through an edited map: the canonical event, each route, the requests', async () => {
    const file = editedConfig((config) => {
      config.sources.chatwoot!.map = {
        type: [{ when: "payload.event == 'message_created'", value: 'conversation.escalated' }],
        fields: {
          'conversation.id': '{{ payload.conversation.id }}',
          'escalation.reason': 'a visitor wrote: {{ payload.content }}',
        },
      };
      config.routes = [
        { on: 'conversation.escalated', when: "escalation.priority == 'high'", to: ['crm'] },
        { on: 'lead.qualified', to: ['crm'] },
        { on: 'conversation.escalated', to: ['crm'] },
      ];
    });
    const preview = await previewJson(ignoredId, file);
    const payload = JSON.parse(fixture('chatwoot-message-created'));
    expect(preview.outcome).toEqual({
      kind: 'event',
      event: {
        type: 'conversation.escalated',
        conversation: { id: String(payload.conversation.id) },
        escalation: { reason: `a visitor wrote: ${payload.content}` },
      },
    });
    expect(preview.routes).toEqual([
      { index: 0, to: ['crm'], matched: false, failed: 'when' },
      { index: 1, to: ['crm'], matched: false, failed: 'type' },
      { index: 2, to: ['crm'], matched: true },
    ]);
    expect(preview.connectors).toHaveLength(1);
    expect(preview.connectors[0]).toMatchObject({ connector: 'crm', type: 'webhook' });
    expect(preview.connectors[0].requests[0]).toMatchObject({ method: 'POST' });

    // The same for a person: every route's verdict in words.
    const text = await runCli(['preview', '--event', ignoredId, '--config', file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`event ${ignoredId} from chatwoot`);
    expect(text.stdout).toContain('── now: conversation.escalated ──');
    expect(text.stdout).toContain('routes[0] → crm: no (its when: is false)');
    expect(text.stdout).toContain('routes[2] → crm: matches');
    expect(text.stdout).toContain('── crm (webhook) ──');
  });

  it("keeps an accepted event's platform payload, so an edited map is tried on it too (looked up by either id)", async () => {
    const file = editedConfig((config) => {
      config.sources.chatwoot!.map = {
        type: [{ when: "payload.status == 'snoozed'", value: 'conversation.escalated' }],
      };
    });
    const stored = await service.store.db
      .selectFrom('events')
      .select(['external_id', 'raw_payload'])
      .where('id', '=', escalationId)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(stored.raw_payload!)).toEqual(
      JSON.parse(fixture('chatwoot-conversation-status-changed-open')),
    );
    const preview = await previewJson(stored.external_id, file);
    expect(preview).toMatchObject({
      id: escalationId,
      stored: { status: 'accepted', type: 'conversation.escalated' },
      input: 'platform payload',
      outcome: { kind: 'ignored' },
    });
  });

  it('names what is wrong: an unknown id, an event whose source is gone', async () => {
    const unknown = await runCli(['preview', '--event', 'ev_nosuch', '--config', service.configFile]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no event with id "ev_nosuch"');
    const file = editedConfig((config) => {
      config.sources = {
        website: { verify: { scheme: 'token', header: 'X-Token', secrets: ['x'.repeat(32)] } },
      };
      config.routes = [{ on: '*', to: ['crm'] }];
    });
    const gone = await runCli(['preview', '--event', ignoredId, '--config', file]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('came from source "chatwoot", which the configuration no longer defines');
  });
});
