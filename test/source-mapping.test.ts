import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { validateCanonicalEvent } from '../src/event/canonical-event.ts';
import { SOURCE_PRESETS } from '../src/ingest/presets/index.ts';
import { applySourceMap, sourceMapSchema } from '../src/ingest/source-mapping.ts';
import { mapRawPayload, previewEvent } from '../src/preview/preview-event.ts';
import { startTestService, type TestService } from './helpers/harness.ts';
import { tempDir } from './helpers/temp-dir.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'sources');
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.json`), 'utf8');

function mapFixture(preset: keyof typeof SOURCE_PRESETS, name: string, headers: Record<string, string> = {}) {
  const map = sourceMapSchema.parse(SOURCE_PRESETS[preset].map);
  const text = fixture(name);
  return applySourceMap(map, JSON.parse(text), (header) => headers[header], text);
}

function mappedEvent(
  preset: keyof typeof SOURCE_PRESETS,
  name: string,
  headers: Record<string, string> = {},
) {
  const result = mapFixture(preset, name, headers);
  if (result.kind !== 'event') throw new Error(`${name} was not mapped: ${JSON.stringify(result)}`);
  const validated = validateCanonicalEvent(result.event);
  expect(validated.ok ? [] : validated.errors).toEqual([]);
  return result.event as Record<string, unknown> & { conversation: { messages?: unknown } };
}

describe('presets map their platforms’ documented payloads into canonical events', () => {
  it('Chatwoot: a conversation handed to an agent (status open) is an escalation with the last message', () => {
    const event = mappedEvent('chatwoot', 'chatwoot-conversation-status-changed-open', {
      'x-chatwoot-delivery': 'dlv_42',
    });
    const payload = JSON.parse(fixture('chatwoot-conversation-status-changed-open'));
    expect(event).toMatchObject({
      // From the signed body, never from the unsigned X-Chatwoot-Delivery header.
      id: `chatwoot-conversation_status_changed-${payload.id}-open-${payload.timestamp}`,
      type: 'conversation.escalated',
      // contact.id: the Chatwoot contact, which ties a returning visitor's conversations together.
      contact: { id: '88', name: 'Dana Reyes', email: 'dana@acme.example', phone: '+14155550100' },
      conversation: { id: '1042' },
    });
    // Chatwoot puts only the conversation's last message in this event.
    expect(event.conversation.messages).toEqual([
      {
        role: 'user',
        text: 'I want to talk to a person about pricing.',
        at: '2025-11-25T09:59:20.000Z',
        author: 'Dana Reyes',
      },
    ]);
  });

  it('Chatwoot: a resolved conversation is a lead when the contact left an email or phone, else ignored', () => {
    const resolved = {
      ...JSON.parse(fixture('chatwoot-conversation-status-changed-open')),
      status: 'resolved',
    };
    const map = sourceMapSchema.parse(SOURCE_PRESETS.chatwoot.map);
    const lead = applySourceMap(map, resolved, () => undefined, JSON.stringify(resolved));
    expect(lead).toMatchObject({ kind: 'event', event: { type: 'lead.qualified' } });
    const anonymous = {
      ...resolved,
      meta: { ...resolved.meta, sender: { ...resolved.meta.sender, email: null, phone_number: null } },
    };
    expect(applySourceMap(map, anonymous, () => undefined, JSON.stringify(anonymous)).kind).toBe('ignored');
  });

  it('Chatwoot: every role in messages[] (integer message_type, agent bots)', () => {
    const open = JSON.parse(fixture('chatwoot-conversation-status-changed-open'));
    const [last] = open.messages;
    const roles = [
      { ...last, message_type: 0 },
      { ...last, message_type: 1, sender: { id: 2, name: 'Acme Bot', type: 'agent_bot' } },
      { ...last, message_type: 1, sender: { id: 5, name: 'Sam Agent', type: 'user' } },
      { ...last, message_type: 2, sender: undefined },
    ].map((message) => {
      const payload = { ...open, messages: [message] };
      const result = applySourceMap(
        sourceMapSchema.parse(SOURCE_PRESETS.chatwoot.map),
        payload,
        () => undefined,
        JSON.stringify(payload),
      );
      if (result.kind !== 'event') throw new Error('ignored');
      return (result.event as { conversation: { messages: Array<{ role: string }> } }).conversation
        .messages[0]!.role;
    });
    expect(roles).toEqual(['user', 'bot', 'agent', 'system']);
  });

  it('Chatwoot: only a hand-off carries an escalation reason; the channel reads as Chatwoot names it', () => {
    const open = mappedEvent('chatwoot', 'chatwoot-conversation-status-changed-open');
    expect(open).toMatchObject({
      escalation: { reason: 'handed over to an agent in Chatwoot' },
      conversation: { channel: 'web' },
    });
    const resolved = {
      ...JSON.parse(fixture('chatwoot-conversation-status-changed-open')),
      status: 'resolved',
    };
    const map = sourceMapSchema.parse(SOURCE_PRESETS.chatwoot.map);
    const lead = applySourceMap(map, resolved, () => undefined, JSON.stringify(resolved));
    if (lead.kind !== 'event') throw new Error('not mapped');
    expect(lead.event).not.toHaveProperty('escalation');
    expect(lead.event).toMatchObject({ conversation: { channel: 'web' } });
  });

  it('Chatwoot: with the instance address (base_url) an event links to the conversation in the app', () => {
    const map = sourceMapSchema.parse(SOURCE_PRESETS.chatwoot.map);
    const open = JSON.parse(fixture('chatwoot-conversation-status-changed-open'));
    const linked = applySourceMap(map, open, () => undefined, JSON.stringify(open), {
      base_url: 'https://chat.acme.example',
    });
    // The account from messages[].account_id (conversation events carry no `account`); the id is the display id.
    expect(linked).toMatchObject({
      event: { conversation: { url: 'https://chat.acme.example/app/accounts/1/conversations/1042' } },
    });
    const csat = JSON.parse(fixture('chatwoot-message-updated-csat'));
    expect(
      applySourceMap(map, csat, () => undefined, JSON.stringify(csat), {
        base_url: 'https://chat.acme.example',
      }),
    ).toMatchObject({
      event: { conversation: { url: 'https://chat.acme.example/app/accounts/1/conversations/1042' } },
    });
    // Without it there is no URL to guess.
    expect(
      mappedEvent('chatwoot', 'chatwoot-conversation-status-changed-open').conversation,
    ).not.toHaveProperty('url');
  });

  it("Chatwoot: an email typed into the widget's \"Get notified by email\" bubble is a lead; Chatwoot's own template message is the bot's", () => {
    const event = mappedEvent('chatwoot', 'chatwoot-message-updated-email-collect');
    expect(event).toMatchObject({
      type: 'lead.qualified',
      contact: { email: 'dana@acme.example', name: 'Dana Reyes' },
      conversation: { id: '1042', channel: 'web' },
    });
    expect(event).not.toHaveProperty('escalation');
    expect(event.conversation.messages).toEqual([
      expect.objectContaining({ role: 'bot', text: 'Get notified by email' }),
    ]);
    // The same bubble before anything was typed in it (message_created) is no lead.
    const map = sourceMapSchema.parse(SOURCE_PRESETS.chatwoot.map);
    const asked = JSON.parse(fixture('chatwoot-message-updated-email-collect'));
    asked.event = 'message_created';
    asked.content_attributes = {};
    expect(applySourceMap(map, asked, () => undefined, JSON.stringify(asked)).kind).toBe('ignored');
  });

  it('Chatwoot: an answered satisfaction survey (CSAT) is feedback with its rating and comment', () => {
    const event = mappedEvent('chatwoot', 'chatwoot-message-updated-csat');
    expect(event).toMatchObject({
      type: 'feedback.submitted',
      feedback: { rating: 2, comment: 'The bot did not understand me.' },
      contact: { name: 'Dana Reyes', email: 'dana@acme.example' },
      conversation: { id: '1042' },
    });
    expect(event.conversation.messages).toEqual([
      expect.objectContaining({ role: 'bot', text: 'Please rate the conversation' }),
    ]);
  });

  it('Intercom: the opening message of a captured hand-off (zulip) leads the transcript', () => {
    const event = mappedEvent('intercom', 'intercom-conversation-admin-open-assigned-captured');
    expect(event.type).toBe('conversation.escalated');
    expect(event.conversation.messages).toEqual([
      expect.objectContaining({ role: 'user', text: 'helklo' }),
      expect.objectContaining({ role: 'agent', text: 'aMSIJJO' }),
    ]);
  });

  it('Intercom: contact.lead.created and contact.lead.added_email are leads (captured by zulip)', () => {
    for (const name of ['intercom-contact-lead-created', 'intercom-contact-lead-added-email']) {
      const payload = JSON.parse(fixture(name));
      expect(mappedEvent('intercom', name)).toMatchObject({
        id: payload.id,
        type: 'lead.qualified',
        contact: { id: payload.data.item.id, email: 'dana@acme.example', name: 'Dana Reyes' },
        metadata: { intercom_contact_id: payload.data.item.id },
      });
    }
    // A lead created with nothing to reach them by is not one yet.
    const map = sourceMapSchema.parse(SOURCE_PRESETS.intercom.map);
    const anonymous = JSON.parse(fixture('intercom-contact-lead-created'));
    anonymous.data.item.email = null;
    expect(applySourceMap(map, anonymous, () => undefined, JSON.stringify(anonymous)).kind).toBe('ignored');
  });

  it('Crisp: session:sync:rating is feedback with its stars and comment', () => {
    expect(mappedEvent('crisp', 'crisp-session-sync-rating')).toMatchObject({
      type: 'feedback.submitted',
      feedback: { rating: 2, comment: 'The bot did not understand me.' },
      conversation: { id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f' },
    });
  });

  it('Chatwoot: without X-Chatwoot-Delivery the id comes from the payload, the same for a re-send', () => {
    const a = mappedEvent('chatwoot', 'chatwoot-conversation-status-changed-open');
    const b = mappedEvent('chatwoot', 'chatwoot-conversation-status-changed-open');
    expect(a.id).toBe('chatwoot-conversation_status_changed-1042-open-1764064800');
    expect(b.id).toBe(a.id);
  });

  it('Chatwoot: message_created is ignored', () => {
    expect(mapFixture('chatwoot', 'chatwoot-message-created').kind).toBe('ignored');
  });

  it('Intercom: conversation.admin.assigned → escalation; conversation.rating.added → feedback with a numeric rating', () => {
    const escalation = mappedEvent('intercom', 'intercom-conversation-admin-assigned');
    expect(escalation).toMatchObject({
      id: 'notif_5c2b9a4e-3f7d-4c1a-9e0b-1d2f3a4b5c6d',
      type: 'conversation.escalated',
      contact: { email: 'dana@acme.example', name: 'Dana Reyes' },
      conversation: { id: '215472621202693', channel: 'conversation' },
      escalation: { reason: 'assigned to a teammate in Intercom' },
      metadata: { intercom_page_url: 'https://acme.example/pricing' },
    });
    // The visitor's opening message (the conversation's source) comes first; HTML is
    // stripped; the assignment part has no body and is left out.
    expect(escalation.conversation.messages).toEqual([
      {
        role: 'user',
        text: 'Can someone from sales call me?',
        at: '2025-11-25T09:58:20.000Z',
        author: 'Dana Reyes',
      },
      {
        role: 'bot',
        text: 'Sure, connecting you with a teammate.',
        at: '2025-11-25T09:59:10.000Z',
        author: 'Fin',
      },
    ]);
    const feedback = mappedEvent('intercom', 'intercom-conversation-rating-added');
    expect(feedback).toMatchObject({
      id: 'notif_8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      type: 'feedback.submitted',
      feedback: { rating: 2, comment: 'bot did not understand me' },
    });
    expect(feedback).not.toHaveProperty('escalation');
  });

  it('Intercom: conversation.user.created → lead when the author left an email; conversation.admin.open.assigned → escalation', () => {
    expect(mappedEvent('intercom', 'intercom-conversation-user-created')).toMatchObject({
      id: 'notif_3ac27816-d27c-45fd-a65a-bbaf021cf780',
      type: 'lead.qualified',
      occurred_at: '2025-11-25T09:58:21.000Z',
      contact: { email: 'dana@acme.example', name: 'Dana Reyes' },
      conversation: { id: '215472621202693' },
    });
    const map = sourceMapSchema.parse(SOURCE_PRESETS.intercom.map);
    const anonymous = JSON.parse(fixture('intercom-conversation-user-created'));
    anonymous.data.item.source.author.email = '';
    expect(applySourceMap(map, anonymous, () => undefined, JSON.stringify(anonymous)).kind).toBe('ignored');
    const reopened = {
      ...JSON.parse(fixture('intercom-conversation-admin-assigned')),
      topic: 'conversation.admin.open.assigned',
    };
    expect(applySourceMap(map, reopened, () => undefined, JSON.stringify(reopened))).toMatchObject({
      kind: 'event',
      event: { type: 'conversation.escalated' },
    });
  });

  it('Tidio: contact.created → lead with the contact, keyed by topic and contact id', () => {
    expect(mappedEvent('tidio', 'tidio-contact-created')).toMatchObject({
      id: 'tidio-contact.created-147ae37d-43bc-42a6-bc7b-c10d1525a2f7',
      type: 'lead.qualified',
      occurred_at: '2023-06-19T12:24:05.000Z',
      contact: {
        email: 'john.doe@example.com',
        phone: '123 456 789',
        name: 'John Doe',
        first_name: 'John',
        last_name: 'Doe',
      },
      metadata: { tidio_contact_id: '147ae37d-43bc-42a6-bc7b-c10d1525a2f7', tidio_distinct_id: '123456' },
    });
    const map = sourceMapSchema.parse(SOURCE_PRESETS.tidio.map);
    const noContact = { ...JSON.parse(fixture('tidio-contact-created')), content: {} };
    expect(applySourceMap(map, noContact, () => undefined, JSON.stringify(noContact))).toMatchObject({
      kind: 'ignored',
      id: '7307ac4d-2c74-4d32-b7f9-f7d037ed2ebb',
    });
  });

  it('Drift: contact_identified → lead', () => {
    const event = mappedEvent('drift', 'drift-contact-identified');
    expect(event).toMatchObject({
      id: 'drift-123456-contact_identified-349999553',
      type: 'lead.qualified',
      contact: { email: 'stephen.webel@example.com', name: 'Stephen Webel', phone: '+1 617 555 0123' },
    });
    // createdAt is when Drift first saw the contact, not when it was identified.
    expect(event).not.toHaveProperty('occurred_at');
  });

  it('Crisp: session:set_email → lead; message:send is ignored', () => {
    expect(mappedEvent('crisp', 'crisp-session-set-email')).toMatchObject({
      type: 'lead.qualified',
      id: 'crisp-session_36ba3566-9651-4790-afc8-ffedbccc317f-session:set_email-1506985696616',
      contact: { email: 'dana@acme.example' },
      conversation: { id: 'session_36ba3566-9651-4790-afc8-ffedbccc317f' },
      occurred_at: '2017-10-02T23:08:16.616Z',
    });
    expect(mapFixture('crisp', 'crisp-message-send').kind).toBe('ignored');
    const map = sourceMapSchema.parse(SOURCE_PRESETS.crisp.map);
    const phone = {
      ...JSON.parse(fixture('crisp-session-set-email')),
      event: 'session:set_phone',
      data: { website_id: 'w', session_id: 'session_1', phone: '+33 6 12 34 56 78' },
    };
    expect(applySourceMap(map, phone, () => undefined, JSON.stringify(phone))).toMatchObject({
      kind: 'event',
      event: { type: 'lead.qualified', contact: { phone: '+33 6 12 34 56 78' } },
    });
  });

  it('Botpress: a hand-off → escalation with roles and authors from messages[{text, author, timestamp}]', () => {
    const event = mappedEvent('botpress', 'botpress-human-handoff');
    expect(event).toMatchObject({
      id: 'handoff_7f3a',
      type: 'conversation.escalated',
      conversation: { id: 'conv_8842' },
    });
    expect(event.conversation.messages).toEqual([
      { role: 'bot', text: 'Hi! What brings you here?', at: '2026-11-25T10:01:00.000Z' },
      { role: 'user', text: 'I need a human, please.', at: '2026-11-25T10:01:20.000Z', author: 'Dana' },
    ]);
  });
});

// Signatures are made here by hand, the way each platform documents them, not by our own signer.
const hex = (algorithm: string, secret: string, content: string) =>
  createHmac(algorithm, secret).update(content).digest('hex');
const SECRET = 'platform-secret';
const now = () => Math.floor(Date.now() / 1000);

describe('mapped sources over HTTP', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      sources: {
        chatwoot: {
          format: 'chatwoot',
          verify: { secrets: [SECRET] },
          base_url: 'https://chat.acme.example/',
        },
        intercom: { format: 'intercom', verify: { secrets: [SECRET] } },
        tidio: { format: 'tidio', verify: { secrets: [SECRET] } },
        drift: { format: 'drift', verify: { secrets: ['drift-verification-token'] } },
        crisp: { format: 'crisp', verify: { secrets: [SECRET] } },
        botpress: { format: 'botpress', verify: { secrets: [SECRET] } },
        custom: {
          format: 'mapped',
          verify: { scheme: 'token', header: 'X-Token', secrets: [SECRET] },
          map: {
            id: '{{ payload.ref }}',
            type: [
              { when: "payload.kind == 'lead'", value: 'lead.qualified' },
              { when: "payload.kind == 'csat'", value: 'feedback.submitted' },
            ],
            fields: {
              'contact.email': '{{ payload.who.mail | lower }}',
              'lead.score': '{{ payload.score }}',
              'feedback.rating': '{{ payload.stars }}',
              'conversation.id': '{{ payload.thread }}',
            },
            messages: {
              from: 'payload.log',
              role: '{% if item.me %}bot{% else %}user{% endif %}',
              text: '{{ item.say }}',
            },
          },
        },
      },
      routes: [{ on: '*', to: ['crm'] }],
    });
  });
  afterAll(() => service.close());

  const signed: Record<string, (body: string) => Record<string, string>> = {
    chatwoot: (body) => {
      const ts = String(now());
      return {
        'X-Chatwoot-Signature': `sha256=${hex('sha256', SECRET, `${ts}.${body}`)}`,
        'X-Chatwoot-Timestamp': ts,
        'X-Chatwoot-Delivery': `dlv_${body.length}`,
      };
    },
    intercom: (body) => ({ 'X-Hub-Signature': `sha1=${hex('sha1', SECRET, body)}` }),
    crisp: (body) => {
      const ts = String(now());
      return {
        'X-Crisp-Signature': hex('sha256', SECRET, `[${ts};${body}]`),
        'X-Crisp-Request-Timestamp': ts,
      };
    },
    botpress: () => ({ 'X-Botpress-Token': SECRET }),
    tidio: (body) => {
      const ts = String(now());
      return { 'x-tidio-signature': `t=${ts},s=${hex('sha256', SECRET, `${body}_${ts}`)}` };
    },
    drift: () => ({}),
  };
  const tampered: Record<string, (body: string) => Record<string, string>> = {
    chatwoot: (body) => ({
      ...signed.chatwoot!(body),
      'X-Chatwoot-Signature': `sha256=${hex('sha256', 'wrong', body)}`,
    }),
    intercom: (body) => ({ 'X-Hub-Signature': `sha1=${hex('sha1', 'wrong', body)}` }),
    crisp: (body) => ({ ...signed.crisp!(body), 'X-Crisp-Signature': hex('sha256', 'wrong', body) }),
    botpress: () => ({ 'X-Botpress-Token': 'wrong' }),
    tidio: (body) => {
      const ts = String(now());
      return { 'x-tidio-signature': `t=${ts},s=${hex('sha256', 'wrong', `${body}_${ts}`)}` };
    },
  };

  it.each([
    ['chatwoot', 'chatwoot-conversation-status-changed-open', 'conversation.escalated'],
    ['intercom', 'intercom-conversation-admin-assigned', 'conversation.escalated'],
    ['intercom', 'intercom-conversation-rating-added', 'feedback.submitted'],
    ['intercom', 'intercom-conversation-user-created', 'lead.qualified'],
    ['tidio', 'tidio-contact-created', 'lead.qualified'],
    ['drift', 'drift-contact-identified', 'lead.qualified'],
    ['crisp', 'crisp-session-set-email', 'lead.qualified'],
    ['botpress', 'botpress-human-handoff', 'conversation.escalated'],
  ])(
    '%s: a validly signed %s is accepted as %s and routed; a bad signature gets 401',
    async (source, name, type) => {
      const body = fixture(name);
      const accepted = await service.post(source, body, signed[source]!(body));
      expect(accepted.status).toBe(202);
      expect(accepted.json).toEqual({ id: expect.stringMatching(/^ev_/), deliveries: 1 });
      const row = await service.store.db
        .selectFrom('events')
        .select(['type', 'status', 'payload'])
        .where('id', '=', String(accepted.json.id))
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ type, status: 'accepted' });
      // What is stored (and delivered) is the canonical event, not the platform's payload.
      expect(JSON.parse(row.payload)).toMatchObject({ type });

      const again = await service.post(source, body, signed[source]!(body));
      expect(again).toMatchObject({ status: 200, json: accepted.json });

      const bad =
        source === 'drift'
          ? await service.post(source, body.replace('drift-verification-token', 'forged-token'))
          : await service.post(source, body, tampered[source]!(body));
      expect(bad.status).toBe(401);
      expect(bad.json.error).toBe('invalid_signature');
    },
  );

  it("a source's base_url reaches its mapping: the stored Chatwoot escalation links into the instance", async () => {
    const body = fixture('chatwoot-conversation-status-changed-open');
    const accepted = await service.post('chatwoot', body, signed.chatwoot!(body));
    expect(accepted.status).toBe([200, 202].includes(accepted.status) ? accepted.status : 202);
    const row = await service.store.db
      .selectFrom('events')
      .select('payload')
      .where('id', '=', String(accepted.json.id))
      .executeTakeFirstOrThrow();
    // The trailing slash of the configured address is not doubled.
    expect(JSON.parse(row.payload).conversation.url).toBe(
      'https://chat.acme.example/app/accounts/1/conversations/1042',
    );
  });

  it('a platform event the mapping turns into nothing is answered 202, recorded as ignored, never delivered, idempotent', async () => {
    const body = fixture('chatwoot-message-created');
    const before = await service.count('deliveries');
    const first = await service.post('chatwoot', body, signed.chatwoot!(body));
    expect(first.status).toBe(202);
    expect(first.json).toEqual({ id: expect.stringMatching(/^ev_/), deliveries: 0, ignored: true });
    const row = await service.store.db
      .selectFrom('events')
      .select(['status', 'payload'])
      .where('id', '=', String(first.json.id))
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('ignored');
    expect(JSON.parse(row.payload)).toMatchObject({ event: 'message_created' });
    const again = await service.post('chatwoot', body, signed.chatwoot!(body));
    expect(again).toMatchObject({ status: 200, json: first.json });
    expect(await service.count('deliveries')).toBe(before);

    // A bad signature is still refused before the mapping looks at anything.
    expect((await service.post('chatwoot', body, tampered.chatwoot!(body))).status).toBe(401);
  });

  it('a custom map: numbers coerced, messages from an array, type chosen by conditions', async () => {
    const body = JSON.stringify({
      ref: 'r-1',
      kind: 'lead',
      who: { mail: 'Dana@Acme.example' },
      score: '82',
      thread: 't-9',
      log: [{ me: true, say: 'Hi!' }, { say: 'Pricing please' }],
    });
    const response = await service.post('custom', body, { 'X-Token': SECRET });
    expect(response.status).toBe(202);
    const row = await service.store.db
      .selectFrom('events')
      .select(['external_id', 'payload'])
      .where('id', '=', String(response.json.id))
      .executeTakeFirstOrThrow();
    expect(row.external_id).toBe('r-1');
    expect(JSON.parse(row.payload)).toEqual({
      id: 'r-1',
      type: 'lead.qualified',
      contact: { email: 'dana@acme.example' },
      lead: { score: 82 },
      conversation: {
        id: 't-9',
        messages: [
          { role: 'bot', text: 'Hi!' },
          { role: 'user', text: 'Pricing please' },
        ],
      },
    });
  });

  it('a mapping that builds an invalid event gets 422 with the failing paths, and says the mapping is at fault', async () => {
    const body = JSON.stringify({ ref: 'r-2', kind: 'csat', stars: 'great' });
    const response = await service.post('custom', body, { 'X-Token': SECRET });
    expect(response.status).toBe(422);
    expect(response.json.message).toMatch(/source mapping/);
    expect(response.json.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'feedback.rating' })]),
    );
  });

  it('preview --source shows the canonical event a raw payload becomes, then the connectors', async () => {
    const config = await loadConfig(service.configFile, { env: {} });
    const raw = JSON.parse(fixture('intercom-conversation-rating-added'));
    const event = mapRawPayload(config, 'intercom', raw)!;
    expect(event).toMatchObject({ type: 'feedback.submitted', feedback: { rating: 2 } });
    const entries = previewEvent(config, event, { source: 'intercom' });
    expect(entries.map((entry) => entry.connector)).toEqual(['crm']);
    expect(() => mapRawPayload(config, 'chatwoot', JSON.parse(fixture('chatwoot-message-created')))).toThrow(
      /ignored/,
    );
    expect(() => mapRawPayload(config, 'intercon', raw)).toThrow(
      /no source named "intercon"; did you mean "intercom"/,
    );
  });
});

describe('source mapping configuration', () => {
  const dir = tempDir();
  afterAll(dir.cleanup);

  async function problems(yaml: string): Promise<string[]> {
    const file = join(dir.path, 'leadrelay.yaml');
    writeFileSync(file, yaml);
    try {
      await loadConfig(file, { env: {} });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems.map((p) => `${p.line}:${p.col}: ${p.path}: ${p.message}`);
    }
    return [];
  }

  it('a broken template or condition in map: is reported at its line and column', async () => {
    const found = await problems(
      [
        'sources:',
        '  bot:',
        '    format: mapped',
        '    verify: { scheme: token, header: X-Token, secrets: [s] }',
        '    map:',
        '      type:',
        '        - when: "{{ payload.kind }}"',
        '          value: lead.qualified',
        '      fields:',
        '        contact.email: "{{ payload.email | lowr }}"',
        '',
      ].join('\n'),
    );
    expect(found).toEqual([
      expect.stringMatching(
        /^7:\d+: sources\.bot\.map\.type\[0\]\.when: invalid condition: write the bare expression/,
      ),
      expect.stringMatching(
        /^10:\d+: sources\.bot\.map\.fields\.contact\.email: invalid template: unknown filter "lowr"; did you mean "lower"\?/,
      ),
    ]);
  });

  it('format: mapped needs a map, a preset needs its secrets, and a map with format canonical is refused', async () => {
    expect(
      await problems(
        'sources:\n  bot:\n    format: mapped\n    verify: { scheme: token, header: X, secrets: [s] }\n',
      ),
    ).toEqual([expect.stringMatching(/sources\.bot\.map: format "mapped" needs a `map:` block/)]);
    expect(await problems('sources:\n  cw:\n    format: chatwoot\n    verify: {}\n')).toEqual([
      expect.stringMatching(/sources\.cw\.verify\.secrets/),
    ]);
    expect(await problems('sources:\n  cw:\n    format: chatwoot\n    verify: { secrets: [s] }\n')).toEqual(
      [],
    );
  });
});
