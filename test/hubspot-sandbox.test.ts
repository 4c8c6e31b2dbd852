import { Client } from '@hubspot/api-client';
import { afterEach, describe, expect, it } from 'vitest';
import { httpStatusOf, transportFailure } from '../connectors/transport-failure.ts';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';

const sandboxes: HubSpotSandbox[] = [];
afterEach(async () => {
  for (const sandbox of sandboxes.splice(0)) await sandbox.close();
});

async function start() {
  const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 1000 });
  sandboxes.push(hubspot);
  // The SDK's own retries stay off (as in the connector), so each call is one request.
  const client = new Client({ accessToken: 'pat-sandbox', basePath: hubspot.url });
  return { hubspot, client };
}

/** What the SDK threw. */
async function failure(
  call: Promise<unknown>,
): Promise<{ code?: unknown; body?: unknown; headers?: unknown }> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as { code?: unknown; body?: unknown; headers?: unknown },
  );
}

const upsert = (client: Client, email: string) =>
  client.crm.contacts.batchApi.upsert({
    inputs: [{ idProperty: 'email', id: email, properties: { firstname: 'Dana' } }],
  });

describe('HubSpot sandbox failRandomly (driven by the real @hubspot/api-client)', () => {
  it("with rate 1 fails the next call with one of the faults, in HubSpot's shapes; with rate 0 none", async () => {
    const { hubspot, client } = await start();
    hubspot.failRandomly(1, [{ status: 429 }]);
    const limited = await failure(upsert(client, 'a@acme.example'));
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({
      status: 'error',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
      correlationId: expect.any(String),
    });
    expect(limited.headers).toMatchObject({ 'x-hubspot-ratelimit-remaining': '0' });

    hubspot.failRandomly(1, [{ status: 502 }, { status: 503 }, { reset: true }]);
    for (let i = 0; i < 6; i++) {
      const error = await failure(upsert(client, 'a@acme.example'));
      // A status comes as ApiException with HubSpot's body; a reset as node-fetch's FetchError
      // (ECONNRESET, SDK 13) or Node's fetch failing with an undici SocketError (SDK 14).
      const status = httpStatusOf(error);
      if (status !== undefined) {
        expect([502, 503]).toContain(status);
        expect(error.body).toMatchObject({ status: 'error', category: 'INTERNAL_ERROR' });
      } else expect(transportFailure(error)?.reason).toMatch(/^connection reset/);
    }
    expect(hubspot.state.contacts.size).toBe(0);

    hubspot.failRandomly(0, [{ status: 500 }]);
    for (let i = 0; i < 5; i++) await upsert(client, `b${i}@acme.example`);
    expect(hubspot.state.contacts.size).toBe(5);
    const counted = [...hubspot.injected.values()].reduce((sum, n) => sum + n, 0);
    expect(counted).toBe(7);
    expect(hubspot.injected.get('429')).toBe(1);
    expect([...hubspot.injected.keys()].every((kind) => ['429', '502', '503', 'reset'].includes(kind))).toBe(
      true,
    );
  });

  it('keeps a write whose answer is lost, fails only requests a fault fits, and can merely slow an answer', async () => {
    const { hubspot, client } = await start();
    const { results } = await upsert(client, 'dana@acme.example');
    const contactId = results[0]!.id;
    hubspot.failRandomly(1, [{ path: '/notes', afterEffect: true, delayMs: 50 }]);
    // Contacts calls do not fit the fault's path.
    await client.crm.contacts.basicApi.getById(contactId);
    const lost = await failure(
      client.crm.objects.notes.basicApi.create({
        properties: { hs_note_body: 'kept', hs_timestamp: new Date().toISOString() },
        associations: [],
      }),
    );
    expect(transportFailure(lost)).toMatchObject({
      kind: 'network',
      reason: expect.stringMatching(/^connection reset/),
    });
    expect([...hubspot.state.notes.values()].map((note) => note.properties.hs_note_body)).toEqual(['kept']);
    expect(hubspot.injected).toEqual(new Map([['performed, then connection dropped after 50 ms', 1]]));

    hubspot.failRandomly(1, [{ delayMs: 150 }]);
    const started = Date.now();
    await client.crm.contacts.basicApi.getById(contactId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(hubspot.injected.get('slow 150 ms')).toBe(1);
  });
});

describe('HubSpot sandbox merges and deletes contacts as HubSpot documents (real @hubspot/api-client)', () => {
  it('a merge makes a new record holding both; the old ids answer with it, on reads and updates', async () => {
    const { hubspot, client } = await start();
    const phoneOnly = await client.crm.contacts.basicApi.create({
      properties: { phone: '+14155550142', firstname: 'Pat' },
      associations: [],
    });
    const withEmail = await client.crm.contacts.basicApi.create({
      properties: { email: 'pat@acme.example', lastname: 'Lee' },
      associations: [],
    });
    await client.crm.objects.notes.basicApi.create({
      properties: { hs_note_body: 'first', hs_timestamp: new Date().toISOString() },
      associations: [
        {
          to: { id: phoneOnly.id },
          types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: 202 }],
        },
      ],
    });
    // developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies:
    // a new record with a new id; both old ids return it.
    const merged = await client.crm.contacts.basicApi.merge({
      primaryObjectId: withEmail.id,
      objectIdToMerge: phoneOnly.id,
    });
    expect([phoneOnly.id, withEmail.id]).not.toContain(merged.id);
    expect(merged.properties).toMatchObject({
      email: 'pat@acme.example',
      phone: '+14155550142',
      firstname: 'Pat',
      lastname: 'Lee',
    });
    expect(merged.properties.hs_merged_object_ids!.split(';').sort()).toEqual(
      [phoneOnly.id, withEmail.id].sort(),
    );
    expect((await client.crm.contacts.basicApi.getById(phoneOnly.id)).id).toBe(merged.id);
    const read = await client.crm.contacts.batchApi.read({
      inputs: [{ id: phoneOnly.id }],
      properties: ['email', 'hs_merged_object_ids'],
      propertiesWithHistory: [],
    });
    expect(read.results.map((contact) => contact.id)).toEqual([merged.id]);
    const updated = await client.crm.contacts.batchApi.update({
      inputs: [{ id: phoneOnly.id, properties: { company: 'Acme' }, objectWriteTraceId: 't1' }],
    });
    expect(updated.results.map((contact) => contact.id)).toEqual([merged.id]);
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.notesOf(merged.id).map((note) => note.properties.hs_note_body)).toEqual(['first']);
    expect(
      (await client.crm.contacts.basicApi.getById(merged.id, ['company'], undefined, ['notes'])).associations
        ?.notes?.results,
    ).toHaveLength(1);
  });

  it('a deleted contact is not found by id (404, or OBJECT_NOT_FOUND in a batch), email or search', async () => {
    const { hubspot, client } = await start();
    const contact = await client.crm.contacts.basicApi.create({
      properties: { email: 'gone@acme.example', phone: '+14155550177' },
      associations: [],
    });
    await client.crm.contacts.basicApi.archive(contact.id);
    expect((await failure(client.crm.contacts.basicApi.getById(contact.id))).code).toBe(404);
    const read = await client.crm.contacts.batchApi.read({
      inputs: [{ id: contact.id }],
      properties: ['email'],
      propertiesWithHistory: [],
    });
    expect(read.results).toEqual([]);
    expect((read as { errors?: unknown[] }).errors).toEqual([
      expect.objectContaining({ category: 'OBJECT_NOT_FOUND', context: { ids: [contact.id] } }),
    ]);
    const update = await client.crm.contacts.batchApi.update({
      inputs: [{ id: contact.id, properties: { company: 'Acme' }, objectWriteTraceId: 't1' }],
    });
    expect((update as { errors?: unknown[] }).errors).toEqual([
      expect.objectContaining({
        category: 'OBJECT_NOT_FOUND',
        context: { ids: [contact.id], objectWriteTraceId: ['t1'] },
      }),
    ]);
    const search = await client.crm.contacts.searchApi.doSearch({
      filterGroups: [
        { filters: [{ propertyName: 'phone', operator: 'EQ' as never, value: '+14155550177' }] },
      ],
      properties: ['phone'],
      limit: 10,
      after: '0',
      sorts: [],
    });
    expect(search.results).toEqual([]);
    // The email is free again: an upsert makes a new contact.
    const again = await upsert(client, 'gone@acme.example');
    expect(again.results[0]!.id).not.toBe(contact.id);
    expect(hubspot.state.archived.has(contact.id)).toBe(true);
  });
});
