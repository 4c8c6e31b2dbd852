import { describe, expect, it } from 'vitest';
import { RetryableError } from '../connectors/errors.ts';
import { hubspotConnector } from '../connectors/hubspot/index.ts';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, startWorker, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

async function setup(
  options: {
    connector?: Record<string, unknown>;
    sandbox?: ConstructorParameters<typeof Object>[0];
    worker?: boolean;
    delivery?: Record<string, unknown>;
  } = {},
) {
  const hubspot = await HubSpotSandbox.start((options.sandbox ?? {}) as never);
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: 'lead.qualified', to: ['hubspot'] }],
      delivery: { poll_interval: '50ms', retry_schedule: ['0s', '0s', '0s', '0s'], ...options.delivery },
    },
    {
      worker: options.worker ?? true,
      connectors: {
        hubspot: {
          type: 'hubspot',
          access_token: 'pat-sandbox',
          base_url: hubspot.url,
          ...options.connector,
        },
      },
    },
  );
  cleanups.push(
    () => hubspot.close(),
    () => service.close(),
  );
  return { hubspot, service };
}

async function post(service: TestService, event: Record<string, unknown>) {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

async function row(service: TestService, eventId: string) {
  return service.store.db
    .selectFrom('deliveries')
    .selectAll()
    .where('event_id', '=', eventId)
    .executeTakeFirstOrThrow();
}

async function finished(service: TestService, eventId: string) {
  await until(
    async () => ['delivered', 'dead'].includes((await row(service, eventId)).status),
    `delivery of ${eventId}`,
    15_000,
  );
  return row(service, eventId);
}

const dana = {
  email: 'Dana.Reyes@Acme.example',
  phone: '(415) 555-0100',
  name: 'Dana Reyes',
  company: 'Acme Corp',
  job_title: 'COO',
};

describe('HubSpot connector (real SDK against the sandbox)', () => {
  it('creates a contact with the mapped properties and a note associated to it (type 202)', async () => {
    const { hubspot, service } = await setup();
    const event = leadEvent({
      contact: dana,
      conversation: {
        id: 'c1',
        url: 'https://chat.example/c/1',
        messages: [{ role: 'user', text: 'We need <intake> automation' }],
      },
      lead: { score: 82, use_case: 'intake automation', budget: '10-25k' },
    });
    const id = await post(service, event);
    const delivery = await finished(service, id);
    expect(delivery.status).toBe('delivered');

    const [contact] = [...hubspot.state.contacts.values()];
    expect(contact!.properties).toMatchObject({
      email: 'dana.reyes@acme.example',
      firstname: 'Dana',
      lastname: 'Reyes',
      phone: '+14155550100',
      company: 'Acme Corp',
      jobtitle: 'COO',
      lifecyclestage: 'lead',
      hs_lead_status: 'NEW',
    });
    const notes = hubspot.state.notesOf(contact!.id);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.properties.hs_note_body).toContain('&lt;intake&gt; automation');
    expect(notes[0]!.properties.hs_note_body).toContain('score 82');
    expect(notes[0]!.properties.hs_note_body).toContain(`leadrelay event ${id}`);
    const result = JSON.parse(delivery.result!);
    expect(result).toMatchObject({
      contact_id: contact!.id,
      note_id: notes[0]!.id,
      created: true,
      url: `https://app.hubspot.com/contacts/${hubspot.state.portalId}/record/0-1/${contact!.id}`,
      links: [{ label: 'Open in HubSpot', url: expect.stringContaining('/record/0-1/') }],
    });
  });

  it('updates the contact that has the email, without moving it back to "lead", and adds a second note', async () => {
    const { hubspot, service } = await setup();
    const existing = hubspot.state.createContact({
      email: 'dana.reyes@acme.example',
      firstname: 'Dana',
      lifecyclestage: 'customer',
    });
    const id = await post(
      service,
      leadEvent({ contact: { ...dana, company: 'Acme Holdings', job_title: 'CEO' } }),
    );
    expect((await finished(service, id)).status).toBe('delivered');
    expect(hubspot.state.contacts.size).toBe(1);
    expect(existing.properties).toMatchObject({
      company: 'Acme Holdings',
      jobtitle: 'CEO',
      lifecyclestage: 'customer',
    });
    expect(existing.properties.hs_lead_status).toBeUndefined();
    const second = await post(service, leadEvent({ contact: dana }));
    expect((await finished(service, second)).status).toBe('delivered');
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.notesOf(existing.id)).toHaveLength(2);
    expect(JSON.parse((await row(service, second)).result!)).toMatchObject({ created: false });
  });

  it('matches a phone-only lead by phone: creates it once, then updates it', async () => {
    const { hubspot, service } = await setup();
    const phoneOnly = { phone: '+1 (415) 555-0199', name: 'Pat Phone' };
    const first = await post(service, leadEvent({ contact: phoneOnly }));
    expect((await finished(service, first)).status).toBe('delivered');
    const second = await post(service, leadEvent({ contact: { ...phoneOnly, company: 'Phoneco' } }));
    expect((await finished(service, second)).status).toBe('delivered');
    expect(hubspot.state.contacts.size).toBe(1);
    const [contact] = [...hubspot.state.contacts.values()];
    expect(contact!.properties).toMatchObject({
      phone: '+14155550199',
      firstname: 'Pat',
      company: 'Phoneco',
    });
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(2);
    expect(hubspot.log.some((entry) => entry.path === '/crm/v3/objects/contacts/search')).toBe(true);
  });

  it('delivers a batch of 100 leads in one upsert and one note call', async () => {
    const { hubspot, service } = await setup({ worker: false });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++)
      ids.push(
        await post(service, leadEvent({ contact: { email: `lead${i}@batch.example`, name: `Lead ${i}` } })),
      );
    cleanups.push(await startWorker(service));
    for (const id of ids) expect((await finished(service, id)).status).toBe('delivered');
    expect(hubspot.state.contacts.size).toBe(100);
    expect(hubspot.state.notes.size).toBe(100);
    const calls = hubspot.log.map((entry) => entry.path);
    expect(calls.filter((path) => path.endsWith('/contacts/batch/upsert'))).toHaveLength(1);
    expect(calls.filter((path) => path.endsWith('/notes/batch/create'))).toHaveLength(1);
    for (const contact of hubspot.state.contacts.values())
      expect(hubspot.state.notesOf(contact.id)).toHaveLength(1);
  });

  it('sends an invalid property to dead with the property named, without failing the rest of the batch', async () => {
    const { hubspot, service } = await setup({
      worker: false,
      connector: {
        properties: { email: '{{ contact.email }}', favorite_color: '{{ contact.attributes.color }}' },
      },
    });
    const good = await post(service, leadEvent({ contact: { email: 'good@x.example' } }));
    const bad = await post(
      service,
      leadEvent({ contact: { email: 'bad@x.example', attributes: { color: 'teal' } } }),
    );
    cleanups.push(await startWorker(service));
    expect((await finished(service, good)).status).toBe('delivered');
    const dead = await finished(service, bad);
    expect(dead.status).toBe('dead');
    expect(dead.last_error).toBe(
      'HubSpot rejected the contact: property "favorite_color": Property values were not valid: Property "favorite_color" does not exist',
    );
    expect([...hubspot.state.contacts.values()].map((c) => c.properties.email)).toEqual(['good@x.example']);
  });

  it('goes dead with an actionable message for an expired or invalid token, and a missing scope', async () => {
    const { hubspot, service } = await setup();
    hubspot.expiredTokens.add('pat-sandbox');
    const expired = await finished(service, await post(service, leadEvent()));
    expect(expired.status).toBe('dead');
    expect(expired.last_error).toMatch(
      /^HubSpot token expired \(reading contacts by email\): The OAuth token used to make this call expired/,
    );
    hubspot.expiredTokens.clear();
    hubspot.tokensWithoutScopes.add('pat-sandbox');
    const scoped = await finished(service, await post(service, leadEvent()));
    expect(scoped.last_error).toMatch(/HubSpot token missing scope crm\.objects\.contacts\.write/);
    hubspot.tokensWithoutScopes.clear();
    hubspot.tokens.delete('pat-sandbox');
    const invalid = await finished(service, await post(service, leadEvent()));
    expect(invalid.last_error).toMatch(/HubSpot token invalid or missing/);
  });

  it('retries after HubSpot answers 429, then succeeds', async () => {
    const { hubspot, service } = await setup({ sandbox: { tenSecondlyLimit: 1000 } });
    hubspot.failNext(1, {
      status: 429,
      body: {
        status: 'error',
        message: 'You have reached your ten_secondly_rolling limit.',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
      },
    });
    const id = await post(service, leadEvent());
    const delivery = await finished(service, id);
    expect(delivery.status).toBe('delivered');
    const attempts = await service.store.db
      .selectFrom('attempts')
      .select(['outcome', 'error'])
      .where('delivery_id', '=', delivery.id)
      .orderBy('id')
      .execute();
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(attempts[0]!.error).toMatch(/ten-second rate limit/);
    expect(hubspot.rateLimited()).toBe(1);
  });

  it('creates exactly one note when the connection dies after HubSpot created it', async () => {
    const { hubspot, service } = await setup();
    // The note is written, then the answer is lost: to leadrelay it looks like a failure.
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true });
    const id = await post(service, leadEvent({ contact: dana }));
    const delivery = await finished(service, id);
    expect(delivery.status).toBe('delivered');
    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    expect(JSON.parse(delivery.result!).note_id).toBe(hubspot.state.notesOf(contact!.id)[0]!.id);
    expect(hubspot.log.filter((e) => e.path.endsWith('/notes/batch/create'))).toHaveLength(1);
  });

  it('an operator’s retry of a dead delivery whose note was made finds that note instead of making a second', async () => {
    const { hubspot, service } = await setup({ delivery: { retry_schedule: ['0s'] } });
    // The only attempt writes the note and loses the answer: with one entry in the schedule, dead.
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true });
    const id = await post(service, leadEvent({ contact: dana }));
    expect((await finished(service, id)).status).toBe('dead');
    const { retryDead } = await import('../src/outbox/retry-dead.ts');
    expect(await retryDead(service.store.db, { allDead: true }, Date.now())).toBe(1);
    service.worker?.wake();
    const retried = await finished(service, id);
    expect(retried.status).toBe('delivered');
    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    expect(hubspot.log.filter((e) => e.path.endsWith('/notes/batch/create'))).toHaveLength(1);
  });

  it('a database error while a delivery is prepared leaves it queued, sends nothing, and the worker goes on', async () => {
    const { hubspot, service } = await setup({ delivery: { retry_schedule: ['0s', '0s', '0s', '0s'] } });
    const { sql } = await import('kysely');
    // The identity map cannot be read (a database that fails mid-run).
    await sql`alter table identities rename to identities_away`.execute(service.store.db);
    const id = await post(service, leadEvent({ contact: dana }));
    await until(async () => {
      const attempts = await service.store.db
        .selectFrom('attempts')
        .innerJoin('deliveries', 'deliveries.id', 'attempts.delivery_id')
        .select('attempts.error')
        .where('deliveries.event_id', '=', id)
        .execute();
      return attempts.some((a) => a.error?.startsWith('could not prepare the delivery'));
    }, 'the failed preparation recorded');
    expect(hubspot.log).toHaveLength(0);
    expect((await row(service, id)).status).toBe('pending');
    await sql`alter table identities_away rename to identities`.execute(service.store.db);
    service.worker?.wake();
    expect((await finished(service, id)).status).toBe('delivered');
    expect(hubspot.state.contacts.size).toBe(1);
  });

  it('in a batch whose note call fails, a retry that found its note is delivered, not dead', async () => {
    const hubspot = await HubSpotSandbox.start();
    cleanups.push(() => hubspot.close());
    const settings = hubspotConnector.settings.parse({ access_token: 'pat-sandbox', base_url: hubspot.url });
    const connector = hubspotConnector.create('hubspot', settings, { now: Date.now, log: () => {} });
    const context = (id: string, email: string, attempt: number, deliveryId: number) => ({
      event: leadEvent({ contact: { email, name: 'Dana Reyes' } }),
      eventId: id,
      deliveryId,
      source: 'site',
      receivedAt: Date.now(),
      attempt,
      related: {},
    });
    // The first attempt at A makes its note, but the answer is lost.
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true });
    const [first] = await connector.deliverBatch!([context('ev_a', 'a@acme.example', 1, 1)]);
    expect(first).toBeInstanceOf(RetryableError);
    // A's retry shares a batch with B; the note call (for B only) fails.
    hubspot.failNext(1, { path: '/notes/batch/create', status: 503 });
    const [a, b] = await connector.deliverBatch!([
      context('ev_a', 'a@acme.example', 2, 1),
      context('ev_b', 'b@acme.example', 1, 2),
    ]);
    expect(a).toMatchObject({ summary: expect.stringMatching(/note \d+ already there/) });
    expect(b).toBeInstanceOf(RetryableError);
    expect(hubspot.state.notes.size).toBe(1);
  });
});
