import { Client } from '@hubspot/api-client';
import { describe, expect, it } from 'vitest';
import { hubspotConnector } from '../connectors/hubspot/index.ts';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { lookupIdentities } from '../src/identity/lookup-identities.ts';
import { startWorkerProcess } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, startWorker, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';

// One person, one HubSpot contact (docs/identity.md): the identity map sends every event of
// a conversation or visitor to the contact its first event resolved, through the real SDK
// against the sandbox; an email on another contact is a conflict, shown and not merged; a
// contact merged or deleted in HubSpot is followed or recreated once.

const secret = newSecret();
const cleanups = cleanupsAfter('each');
const PHONE = '+1 415 555 0142';

async function setup(
  options: { worker?: boolean; delivery?: Record<string, unknown>; connector?: Record<string, unknown> } = {},
) {
  const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 1000 });
  const ops = await WebhookSandbox.start();
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      // Both event types go to HubSpot, as a user who wants escalations on the contact routes them.
      routes: [{ on: ['lead.qualified', 'conversation.escalated'], to: ['hubspot'] }],
      delivery: { poll_interval: '50ms', retry_schedule: ['0s', '0s', '0s', '0s'], ...options.delivery },
      alerts: { to: 'ops', min_interval: '10m' },
    },
    {
      worker: options.worker ?? true,
      connectors: {
        hubspot: {
          type: 'hubspot',
          access_token: 'pat-sandbox',
          base_url: hubspot.url,
          timeout: '60s',
          ...options.connector,
        },
        ops: { type: 'webhook', url: `${ops.url}/ops` },
      },
    },
  );
  cleanups.push(
    () => hubspot.close(),
    () => ops.close(),
    () => service.close(),
  );
  // A person working in HubSpot (merging, deleting) uses the same API.
  const sdk = new Client({ accessToken: 'pat-sandbox', basePath: hubspot.url });
  return { hubspot, ops, service, sdk };
}

async function post(service: TestService, event: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

async function delivered(service: TestService, eventId: string) {
  let row: { status: string; attempts: number; result: string | null; last_error: string | null } | undefined;
  await until(
    async () => {
      row = await service.store.db
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'result', 'last_error'])
        .where('event_id', '=', eventId)
        .where('connector', '=', 'hubspot')
        .executeTakeFirstOrThrow();
      return ['delivered', 'dead'].includes(row.status);
    },
    `delivery of ${eventId}`,
    90_000,
  );
  expect(row!.last_error).toBeNull();
  expect(row!.status).toBe('delivered');
  return { attempts: row!.attempts, result: JSON.parse(row!.result!) as Record<string, unknown> };
}

function escalation(conversation: string, contact: Record<string, unknown>) {
  return leadEvent({
    type: 'conversation.escalated',
    contact,
    conversation: {
      id: conversation,
      channel: 'web',
      messages: [{ role: 'user', text: 'Can I talk to a human?' }],
    },
    escalation: { reason: 'asked for a human', priority: 'high' },
  });
}

function qualified(conversation: string, contact: Record<string, unknown>) {
  return leadEvent({
    contact,
    conversation: {
      id: conversation,
      channel: 'web',
      messages: [{ role: 'user', text: 'We need intake automation' }],
    },
    lead: { score: 82, use_case: 'intake automation' },
  });
}

function known(service: TestService, identifiers: string[]) {
  return lookupIdentities(service.store.db, 'hubspot', identifiers);
}

function noteBodies(hubspot: HubSpotSandbox, contactId: string): string[] {
  return hubspot.state.notesOf(contactId).map((note) => note.properties.hs_note_body ?? '');
}

describe('HubSpot: one person, one contact (identity map, real SDK against the sandbox)', () => {
  it('phone first, then email in the same conversation: one contact holding the email and both notes', async () => {
    const { hubspot, service } = await setup();
    const first = await post(service, escalation('conv_same_visitor', { phone: PHONE }));
    const escalated = await delivered(service, first);
    expect(escalated.result).toMatchObject({ created: true, matched: 'created' });
    const contactId = String(escalated.result.contact_id);

    const second = await post(
      service,
      qualified('conv_same_visitor', {
        email: 'Dana.Reyes@Acme.example',
        name: 'Dana Reyes',
        company: 'Acme Corp',
      }),
    );
    const lead = await delivered(service, second);
    expect(lead.result).toMatchObject({ contact_id: contactId, created: false, matched: 'known' });

    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.contacts.get(contactId)!.properties).toMatchObject({
      email: 'dana.reyes@acme.example',
      phone: '+14155550142',
      firstname: 'Dana',
      company: 'Acme Corp',
    });
    const notes = noteBodies(hubspot, contactId);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain('Escalated: asked for a human');
    expect(notes[1]).toContain('qualified lead');
    expect(
      await known(service, [
        'conversation:site:conv_same_visitor',
        'phone:+14155550142',
        'email:dana.reyes@acme.example',
      ]),
    ).toEqual({
      'conversation:site:conv_same_visitor': `contact:${contactId}`,
      'phone:+14155550142': `contact:${contactId}`,
      'email:dana.reyes@acme.example': `contact:${contactId}`,
    });
    // The known contact was updated by id, never upserted by an email that would have made a second one.
    expect(hubspot.log.filter((entry) => entry.path.endsWith('/contacts/batch/upsert'))).toHaveLength(0);
  });

  it('a second email from a known visitor goes to the same contact, which keeps its email; the new one is in the note and the map', async () => {
    const { hubspot, service } = await setup();
    const first = await delivered(
      service,
      await post(
        service,
        qualified('conv_a', { id: 'v_4711', email: 'dana@personal.example', name: 'Dana Reyes' }),
      ),
    );
    const contactId = String(first.result.contact_id);
    const second = await delivered(
      service,
      await post(
        service,
        qualified('conv_b', { id: 'v_4711', email: 'dana.reyes@acme.example', name: 'Dana Reyes' }),
      ),
    );
    expect(second.result).toMatchObject({ contact_id: contactId, matched: 'known' });
    // A later event with only the new email, in a new conversation, finds the same contact.
    const third = await delivered(
      service,
      await post(service, qualified('conv_c', { email: 'dana.reyes@acme.example' })),
    );
    expect(third.result).toMatchObject({ contact_id: contactId });

    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.contacts.get(contactId)!.properties.email).toBe('dana@personal.example');
    const notes = noteBodies(hubspot, contactId);
    expect(notes).toHaveLength(3);
    expect(notes[1]).toContain(
      'Email given in this conversation: dana.reyes@acme.example (the contact keeps dana@personal.example)',
    );
    expect(
      await known(service, [
        'visitor:site:v_4711',
        'email:dana.reyes@acme.example',
        'email:dana@personal.example',
      ]),
    ).toEqual({
      'visitor:site:v_4711': `contact:${contactId}`,
      'email:dana.reyes@acme.example': `contact:${contactId}`,
      'email:dana@personal.example': `contact:${contactId}`,
    });
  });

  it('an email already on another contact: delivered to that contact, the conflict shown (result, ops alert with both links), nothing merged', async () => {
    const { hubspot, ops, service } = await setup();
    const existing = hubspot.state.createContact({ email: 'dana.reyes@acme.example', firstname: 'Dana' });
    const phoneFirst = await delivered(
      service,
      await post(service, escalation('conv_conflict', { phone: PHONE })),
    );
    const phoneContact = String(phoneFirst.result.contact_id);
    expect(phoneContact).not.toBe(existing.id);

    const id = await post(
      service,
      qualified('conv_conflict', { email: 'dana.reyes@acme.example', name: 'Dana Reyes' }),
    );
    const { result } = await delivered(service, id);
    const portal = hubspot.state.portalId;
    const url = (contact: string) => `https://app.hubspot.com/contacts/${portal}/record/0-1/${contact}`;
    expect(result).toMatchObject({
      contact_id: existing.id,
      matched: 'email',
      conflict: {
        identifier: 'email:dana.reyes@acme.example',
        known: `contact:${phoneContact}`,
        used: `contact:${existing.id}`,
        links: [
          { label: `Contact ${phoneContact} (earlier events of this person)`, url: url(phoneContact) },
          { label: `Contact ${existing.id} (holds dana.reyes@acme.example)`, url: url(existing.id) },
        ],
      },
    });
    const row = await service.store.db
      .selectFrom('attempts')
      .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
      .select('attempts.response_summary')
      .where('deliveries.event_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.response_summary).toContain(
      `conflict: dana.reyes@acme.example is on contact ${existing.id}, but earlier events of this person went to contact ${phoneContact}`,
    );

    // Nothing merged: two contacts, each with its own note, the phone contact still without the email.
    expect(hubspot.state.contacts.size).toBe(2);
    expect(hubspot.state.contacts.get(phoneContact)!.properties.email).toBeUndefined();
    expect(noteBodies(hubspot, phoneContact)).toHaveLength(1);
    expect(noteBodies(hubspot, existing.id)).toHaveLength(1);
    expect(hubspot.log.some((entry) => entry.path.endsWith('/merge'))).toBe(false);
    // The email points at its contact; the conversation and phone keep theirs.
    expect(
      await known(service, [
        'conversation:site:conv_conflict',
        'phone:+14155550142',
        'email:dana.reyes@acme.example',
      ]),
    ).toEqual({
      'conversation:site:conv_conflict': `contact:${phoneContact}`,
      'phone:+14155550142': `contact:${phoneContact}`,
      'email:dana.reyes@acme.example': `contact:${existing.id}`,
    });

    await until(() => ops.delivered().length === 1, 'the conflict alert');
    const alert = JSON.parse(ops.delivered()[0]!.body) as {
      escalation: { reason: string; summary: string };
      metadata: { leadrelay_alert: Record<string, unknown> };
    };
    expect(alert.escalation.reason).toBe('Two hubspot records for one person');
    expect(alert.escalation.summary).toContain(url(phoneContact));
    expect(alert.escalation.summary).toContain(url(existing.id));
    expect(alert.escalation.summary).toContain('nothing was merged');
    // Email addresses are masked in alerts unless LOG_PII.
    expect(alert.escalation.summary).not.toContain('dana.reyes@acme.example');
    expect(alert.metadata.leadrelay_alert).toMatchObject({
      kind: 'conflict',
      connector: 'hubspot',
      event_id: id,
      known: `contact:${phoneContact}`,
      used: `contact:${existing.id}`,
    });
  });

  it('a known contact merged in HubSpot: delivered to the merged record, and the map moves to it', async () => {
    const { hubspot, service, sdk } = await setup();
    const first = await delivered(service, await post(service, escalation('conv_merge', { phone: PHONE })));
    const original = String(first.result.contact_id);
    const other = await sdk.crm.contacts.basicApi.create({
      properties: { email: 'pat@acme.example', firstname: 'Pat' },
      associations: [],
    });
    const merged = await sdk.crm.contacts.basicApi.merge({
      primaryObjectId: other.id,
      objectIdToMerge: original,
    });

    // Only the conversation ties this event to the person: no email, no phone.
    const second = await delivered(service, await post(service, escalation('conv_merge', {})));
    expect(second.result).toMatchObject({
      contact_id: merged.id,
      matched: 'known',
      replaced: `contact:${original}`,
      replaced_because: 'merged',
    });
    expect(await known(service, ['conversation:site:conv_merge', 'phone:+14155550142'])).toEqual({
      'conversation:site:conv_merge': `contact:${merged.id}`,
      'phone:+14155550142': `contact:${merged.id}`,
    });
    const third = await delivered(service, await post(service, escalation('conv_merge', {})));
    expect(third.result.contact_id).toBe(merged.id);
    expect(third.result.replaced).toBeUndefined();
    expect(hubspot.state.contacts.size).toBe(1);
    expect(noteBodies(hubspot, merged.id)).toHaveLength(3);
  });

  it('a known contact deleted in HubSpot is recreated once, and the map moves to the new one', async () => {
    const { hubspot, service, sdk } = await setup();
    const first = await delivered(service, await post(service, escalation('conv_deleted', { phone: PHONE })));
    const deleted = String(first.result.contact_id);
    await sdk.crm.contacts.basicApi.archive(deleted);

    const second = await delivered(
      service,
      await post(service, escalation('conv_deleted', { phone: PHONE })),
    );
    expect(second.attempts).toBe(1);
    expect(second.result).toMatchObject({
      created: true,
      replaced: `contact:${deleted}`,
      replaced_because: 'deleted',
    });
    const recreated = String(second.result.contact_id);
    expect(recreated).not.toBe(deleted);
    expect(await known(service, ['conversation:site:conv_deleted', 'phone:+14155550142'])).toEqual({
      'conversation:site:conv_deleted': `contact:${recreated}`,
      'phone:+14155550142': `contact:${recreated}`,
    });
    // Once: the next event goes to the new contact without another look at the deleted one.
    const third = await delivered(service, await post(service, escalation('conv_deleted', {})));
    expect(third.result).toMatchObject({ contact_id: recreated, matched: 'known' });
    expect(third.result.replaced).toBeUndefined();
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.archived.size).toBe(1);
    expect(noteBodies(hubspot, recreated)).toHaveLength(2);
  });

  it('an update by id whose answer is lost: the retry updates the same contact and finds its note, no second contact or note', async () => {
    const { hubspot, service } = await setup();
    const first = await delivered(service, await post(service, escalation('conv_lost', { phone: PHONE })));
    const contactId = String(first.result.contact_id);
    // The update (adding the email) and then the note are performed, each answer lost.
    hubspot.failNext(1, { path: '/contacts/batch/update', afterEffect: true });
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true });
    const second = await delivered(
      service,
      await post(service, qualified('conv_lost', { email: 'lost@acme.example', name: 'Lou Lost' })),
    );
    expect(second.attempts).toBe(3);
    expect(second.result).toMatchObject({ contact_id: contactId, matched: 'known' });
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.contacts.get(contactId)!.properties.email).toBe('lost@acme.example');
    expect(noteBodies(hubspot, contactId)).toHaveLength(2);
    expect(second.result.conflict).toBeUndefined();
  });
});

describe('HubSpot: two events of one contact in one batch', () => {
  it('two people merged into one contact, then an event from each in one batch: both updates, one after the other', async () => {
    const { hubspot, service, sdk } = await setup({ worker: false });
    let stop = await startWorker(service);
    const first = await delivered(service, await post(service, escalation('conv_one', { phone: PHONE })));
    const second = await delivered(
      service,
      await post(service, escalation('conv_two', { phone: '+1 415 555 0199' })),
    );
    await stop();
    const merged = await sdk.crm.contacts.basicApi.merge({
      primaryObjectId: String(first.result.contact_id),
      objectIdToMerge: String(second.result.contact_id),
    });
    // Two people to leadrelay's ordering (their events share no identifier), one contact in
    // HubSpot: claimed together, both known to the merged record.
    const one = await post(service, escalation('conv_one', {}));
    const two = await post(service, escalation('conv_two', {}));
    const updatesBefore = hubspot.log.filter((entry) => entry.path.endsWith('/contacts/batch/update')).length;
    stop = await startWorker(service);
    cleanups.push(stop);
    expect((await delivered(service, one)).result).toMatchObject({ contact_id: merged.id, matched: 'known' });
    expect((await delivered(service, two)).result).toMatchObject({ contact_id: merged.id, matched: 'known' });
    // HubSpot refuses one id twice in a batch update ("Duplicate IDs found in batch input").
    expect(
      hubspot.log.filter((entry) => entry.path.endsWith('/contacts/batch/update')).length - updatesBefore,
    ).toBe(2);
    expect(hubspot.state.contacts.size).toBe(1);
    expect(noteBodies(hubspot, merged.id)).toHaveLength(4);
  });
});

describe('HubSpot match order, as configured', () => {
  it('match: [phone, known] lets a phone match win over the contact the conversation went to', async () => {
    const { hubspot, service } = await setup({ connector: { match: ['phone', 'known', 'email'] } });
    const first = await delivered(service, await post(service, escalation('conv_order', { phone: PHONE })));
    const byConversation = String(first.result.contact_id);
    const other = hubspot.state.createContact({ phone: '+14155550199', firstname: 'Other' });
    const second = await delivered(
      service,
      await post(service, escalation('conv_order', { phone: '+1 415 555 0199' })),
    );
    expect(second.result).toMatchObject({ contact_id: other.id, matched: 'phone' });
    expect(other.id).not.toBe(byConversation);
  });

  it('match: [email, phone] leaves the identity map out, as before it: phone first, then email, makes two contacts', async () => {
    const { hubspot, service } = await setup({ connector: { match: ['email', 'phone'] } });
    await delivered(service, await post(service, escalation('conv_no_map', { phone: PHONE })));
    const lead = await delivered(
      service,
      await post(service, qualified('conv_no_map', { email: 'dana.reyes@acme.example' })),
    );
    expect(lead.result).toMatchObject({ matched: 'created' });
    expect(hubspot.state.contacts.size).toBe(2);
  });
});

describe('HubSpot: a new email with the phone of a contact leadrelay never resolved', () => {
  const searches = (hubspot: HubSpotSandbox) =>
    hubspot.log.filter((entry) => entry.path === '/crm/v3/objects/contacts/search').length;

  it('the phone-only contact gets the email and the note: one contact, recorded for the email and phone', async () => {
    const { hubspot, service } = await setup();
    // Left by the visitor in another tool: HubSpot has it, leadrelay's map does not.
    const existing = hubspot.state.createContact({ phone: '+14155550142', firstname: 'Dana' });
    const { result } = await delivered(
      service,
      await post(
        service,
        qualified('conv_phone_elsewhere', { email: 'dana.reyes@acme.example', phone: PHONE }),
      ),
    );
    expect(result).toMatchObject({ contact_id: existing.id, created: false, matched: 'phone' });
    expect(result.phone_not_matched).toBeUndefined();
    expect(hubspot.state.contacts.size).toBe(1);
    expect(existing.properties).toMatchObject({ email: 'dana.reyes@acme.example', phone: '+14155550142' });
    // Updated by id, not upserted: create-only properties are for contacts leadrelay creates.
    expect(existing.properties.lifecyclestage).toBeUndefined();
    expect(hubspot.log.filter((entry) => entry.path.endsWith('/contacts/batch/upsert'))).toHaveLength(0);
    expect(noteBodies(hubspot, existing.id)).toHaveLength(1);
    expect(
      await known(service, [
        'conversation:site:conv_phone_elsewhere',
        'email:dana.reyes@acme.example',
        'phone:+14155550142',
      ]),
    ).toEqual({
      'conversation:site:conv_phone_elsewhere': `contact:${existing.id}`,
      'email:dana.reyes@acme.example': `contact:${existing.id}`,
      'phone:+14155550142': `contact:${existing.id}`,
    });
  });

  it('a contact with that phone and another email is someone else: a new contact, nothing merged, and the result says so', async () => {
    const { hubspot, service } = await setup();
    // Two people can share a phone: an office line, a family number.
    const colleague = hubspot.state.createContact({ phone: '+14155550142', email: 'sam@acme.example' });
    const id = await post(
      service,
      qualified('conv_shared_phone', { email: 'dana.reyes@acme.example', phone: PHONE }),
    );
    const { result } = await delivered(service, id);
    expect(result).toMatchObject({
      created: true,
      matched: 'created',
      phone_not_matched: { phone: '+14155550142', contacts: [colleague.id], because: 'other_email' },
    });
    expect(result.contact_id).not.toBe(colleague.id);
    expect(searches(hubspot)).toBe(1);
    expect(hubspot.state.contacts.size).toBe(2);
    expect(colleague.properties.email).toBe('sam@acme.example');
    expect(noteBodies(hubspot, colleague.id)).toHaveLength(0);
    const row = await service.store.db
      .selectFrom('attempts')
      .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
      .select('attempts.response_summary')
      .where('deliveries.event_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.response_summary).toContain(
      `phone +14155550142 is on contact ${colleague.id}, which has another email — not merged`,
    );
  });

  it('a colleague leadrelay delivered earlier with the same office phone: a new contact, not the colleague’s', async () => {
    const { hubspot, service } = await setup();
    // Sam's lead maps his phone to his contact…
    const sam = await post(service, qualified('conv_sam', { email: 'sam@acme.example', phone: PHONE }));
    const samContact = (await delivered(service, sam)).result.contact_id;
    expect(await known(service, ['phone:+14155550142'])).toEqual({
      'phone:+14155550142': `contact:${samContact}`,
    });
    // …and Dana, with her own email and the same office number, must not be written onto it.
    const dana = await post(
      service,
      qualified('conv_dana', { email: 'dana.reyes@acme.example', phone: PHONE }),
    );
    const danaContact = (await delivered(service, dana)).result.contact_id;
    expect(danaContact).not.toBe(samContact);
    expect(hubspot.state.contacts.get(String(samContact))?.properties.email).toBe('sam@acme.example');
    expect(noteBodies(hubspot, String(samContact))).toHaveLength(1);
    expect(await known(service, ['email:dana.reyes@acme.example'])).toEqual({
      'email:dana.reyes@acme.example': `contact:${danaContact}`,
    });
  });

  it('several contacts with that phone: not matched by phone, the lead is not failed but upserted by its email', async () => {
    const { hubspot, service } = await setup();
    const one = hubspot.state.createContact({ phone: '+14155550142' });
    const two = hubspot.state.createContact({ phone: '+14155550142' });
    const { result } = await delivered(
      service,
      await post(service, qualified('conv_two_phones', { email: 'dana.reyes@acme.example', phone: PHONE })),
    );
    expect(result).toMatchObject({
      created: true,
      phone_not_matched: { contacts: [one.id, two.id], because: 'several' },
    });
    expect(hubspot.state.contacts.size).toBe(3);
    expect(one.properties.email).toBeUndefined();
    expect(two.properties.email).toBeUndefined();
  });

  it('two new emails with that phone in one batch: the first takes the phone-only contact, the second gets its own', async () => {
    const hubspot = await HubSpotSandbox.start();
    cleanups.push(() => hubspot.close());
    const settings = hubspotConnector.settings.parse({ access_token: 'pat-sandbox', base_url: hubspot.url });
    const connector = hubspotConnector.create('hubspot', settings, { now: Date.now, log: () => {} });
    const existing = hubspot.state.createContact({ phone: '+14155550142' });
    const context = (id: string, email: string, deliveryId: number) => ({
      event: qualified(`conv_${id}`, { email, phone: PHONE }),
      eventId: id,
      deliveryId,
      source: 'site',
      receivedAt: Date.now(),
      attempt: 1,
      related: {},
    });
    // Both searches see the contact without an email: the second must not overwrite the first's.
    const [first, second] = await connector.deliverBatch!([
      context('ev_first', 'dana@acme.example', 1),
      context('ev_second', 'sam@acme.example', 2),
    ]);
    expect(first).toMatchObject({ data: { contact_id: existing.id, matched: 'phone' } });
    expect(second).toMatchObject({
      data: { created: true, phone_not_matched: { contacts: [existing.id], because: 'other_email' } },
    });
    expect(existing.properties.email).toBe('dana@acme.example');
    expect(hubspot.state.contacts.size).toBe(2);
  });

  it('an email a contact already holds is not searched by phone', async () => {
    const { hubspot, service } = await setup();
    const owner = hubspot.state.createContact({ email: 'dana.reyes@acme.example' });
    hubspot.state.createContact({ phone: '+14155550142' });
    const { result } = await delivered(
      service,
      await post(service, qualified('conv_owned', { email: 'dana.reyes@acme.example', phone: PHONE })),
    );
    expect(result).toMatchObject({ contact_id: owner.id, matched: 'email' });
    expect(searches(hubspot)).toBe(0);
  });

  it('match: [known, email] turns the phone search off: no search call, a new contact', async () => {
    const { hubspot, service } = await setup({ connector: { match: ['known', 'email'] } });
    const existing = hubspot.state.createContact({ phone: '+14155550142' });
    const { result } = await delivered(
      service,
      await post(
        service,
        qualified('conv_no_phone_step', { email: 'dana.reyes@acme.example', phone: PHONE }),
      ),
    );
    expect(result).toMatchObject({ created: true, matched: 'created' });
    expect(result.contact_id).not.toBe(existing.id);
    expect(searches(hubspot)).toBe(0);
    expect(hubspot.state.contacts.size).toBe(2);
    expect(existing.properties.email).toBeUndefined();
  });
});

describe('HubSpot identity across a crash', { timeout: 240_000 }, () => {
  it('a worker killed after HubSpot created the phone-first contact: the retry finds it and records it; the email then joins it', async () => {
    const { hubspot, service } = await setup({
      worker: false,
      delivery: { poll_interval: '100ms', lease: '1s', retry_schedule: ['0s', '200ms', '500ms', '1s', '2s'] },
    });
    // As in real HubSpot, search lags behind writes: the retry must wait it out (search_lag), not create.
    hubspot.state.searchLagMs = 3_000;
    await rewriteConnector(service, { search_lag: '4s' });
    hubspot.failNext(1, { path: /^\/crm\/v3\/objects\/contacts$/, afterEffect: true, delayMs: 120_000 });
    const id = await post(service, escalation('conv_crash', { phone: PHONE }));

    const firstWorker = await worker(service);
    await until(() => hubspot.state.contacts.size === 1, 'the contact written by the first worker', 60_000);
    firstWorker.child.kill('SIGKILL');
    await firstWorker.exited;
    expect(await known(service, ['conversation:site:conv_crash'])).toEqual({});
    await worker(service);
    const escalated = await delivered(service, id);
    const [contact] = [...hubspot.state.contacts.values()];
    expect(escalated.result.contact_id).toBe(contact!.id);
    expect(await known(service, ['conversation:site:conv_crash'])).toEqual({
      'conversation:site:conv_crash': `contact:${contact!.id}`,
    });

    const lead = await delivered(
      service,
      await post(service, qualified('conv_crash', { email: 'cora@acme.example', name: 'Cora Crash' })),
    );
    expect(lead.result).toMatchObject({ contact_id: contact!.id, matched: 'known' });
    expect(hubspot.state.contacts.size).toBe(1);
    expect(noteBodies(hubspot, contact!.id)).toHaveLength(2);
  });
});

describe('HubSpot match order (connectors/NAME.yaml `match`)', () => {
  it.each([
    ['[known, phone]', 'must include "email": HubSpot keeps one contact per email'],
    ['[known, email, known]', 'each step may appear once'],
    ['[known, emial, phone]', 'must be one of "known", "email", "phone"; did you mean "email"?'],
    ['[]', 'name at least "email"'],
  ])('refuses match: %s with file:line:col and the reason', async (match, reason) => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    mkdirSync(join(dir.path, 'connectors'));
    writeFileSync(
      join(dir.path, 'leadrelay.yaml'),
      `sources:\n  bot:\n    verify: { secrets: ["${secret}"] }\nroutes:\n  - on: lead.qualified\n    to: [hubspot]\n`,
    );
    writeFileSync(
      join(dir.path, 'connectors', 'hubspot.yaml'),
      `type: hubspot\naccess_token: pat-x\nmatch: ${match}\n`,
    );
    const error = await loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(/connectors\/hubspot\.yaml:3:\d+: match(\[\d\])?: /);
    expect(String((error as Error).message)).toContain(reason);
  });
});

/** The same connector file, with `extra` settings: the child workers read the files on disk. */
async function rewriteConnector(service: TestService, extra: Record<string, unknown>): Promise<void> {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { parse, stringify } = await import('yaml');
  const file = join(service.dir, 'connectors', 'hubspot.yaml');
  writeFileSync(file, stringify({ ...parse(readFileSync(file, 'utf8')), ...extra }));
}

const worker = (service: TestService) => startWorkerProcess(service.configFile, cleanups);
