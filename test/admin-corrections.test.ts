import { describe, expect, it } from 'vitest';
import { correctEvent, parseFieldPath } from '../src/event/correct-event.ts';
import { leadContacts } from '../src/outbox/lead-contacts.ts';
import { pruneOnce } from '../src/outbox/prune.ts';
import { recordCorrection } from '../src/outbox/record-correction.ts';
import { adminServiceWithWebhook } from './helpers/admin-fixture.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { describeEachDialect, newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const TOKEN = 'corrections-admin-token-0123456789';
const cleanups = cleanupsAfter('each');

describe('correcting a canonical event (pure)', () => {
  const event = {
    id: 'evt_1',
    type: 'lead.qualified',
    contact: { email: 'dana@acme', name: 'Dana' },
    conversation: { id: 'c1', messages: [{ role: 'user', text: 'Hi' }] },
    lead: { score: 40 },
  };

  it('sets, adds and removes scalar fields on a copy, recording each change from → to', () => {
    const result = correctEvent(event, [
      { path: 'contact.email', value: 'dana@acme.example' },
      { path: 'contact.company', value: 'Acme Corp' },
      { path: 'contact.name', value: null },
      { path: 'conversation.messages[0].text', value: 'Hello' },
      { path: 'lead.score', value: 82 },
      { path: 'metadata.crm_note', value: 'fixed by ops' },
    ]);
    expect(result).toMatchObject({
      ok: true,
      applied: [
        { path: 'contact.email', from: 'dana@acme', to: 'dana@acme.example' },
        { path: 'contact.company', from: undefined, to: 'Acme Corp' },
        { path: 'contact.name', from: 'Dana', to: undefined },
        { path: 'conversation.messages[0].text', from: 'Hi', to: 'Hello' },
        { path: 'lead.score', from: 40, to: 82 },
        { path: 'metadata.crm_note', from: undefined, to: 'fixed by ops' },
      ],
    });
    if (!result.ok) return;
    expect(result.event.contact).toEqual({ email: 'dana@acme.example', company: 'Acme Corp' });
    expect(result.event.metadata).toEqual({ crm_note: 'fixed by ops' });
    // The stored event is not touched.
    expect(event.contact).toEqual({ email: 'dana@acme', name: 'Dana' });
  });

  it('refuses with the field path a value that ingest would refuse', () => {
    expect(correctEvent(event, [{ path: 'contact.email', value: 'not an email' }])).toEqual({
      ok: false,
      kind: 'invalid',
      errors: [{ path: 'contact.email', message: 'is not an email address' }],
    });
    // Removing the only way to reach a lead is refused too (lead.qualified needs email or phone).
    const refused = correctEvent(event, [{ path: 'contact.email', value: null }]);
    expect(refused).toMatchObject({ ok: false, kind: 'invalid', errors: [{ path: 'contact.email' }] });
    expect(correctEvent(event, [{ path: 'lead.score', value: 'high' }])).toMatchObject({
      ok: false,
      errors: [{ path: 'lead.score' }],
    });
  });

  it('refuses the id, the type, objects, prototype keys, unknown list items and no-op corrections', () => {
    const problem = (path: string, value: string | number | null = 'x') => {
      const result = correctEvent(event, [{ path, value }]);
      expect(result.ok, path).toBe(false);
      return result.ok ? '' : `${result.errors[0]!.path}: ${result.errors[0]!.message}`;
    };
    expect(problem('id')).toMatch(/^id: .*idempotency key/);
    expect(problem('type', 'feedback.submitted')).toMatch(/^type: .*routes/);
    expect(problem('contact')).toMatch(/holds several fields/);
    expect(problem('conversation.messages')).toMatch(/holds a list/);
    expect(problem('conversation.messages[5].text')).toMatch(/does not exist \(the list has 1 items\)/);
    expect(problem('conversation.messages[0]', null)).toMatch(/holds several fields/);
    expect(problem('contact.email.domain')).toMatch(/is a single value/);
    expect(problem('__proto__.polluted')).toMatch(/cannot be a field name/);
    expect(problem('contact.constructor')).toMatch(/cannot be a field name/);
    expect(problem('contact..email')).toMatch(/is not a field path/);
    expect(problem('contact.email', 'dana@acme')).toMatch(/nothing to correct/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseFieldPath('conversation.messages[2].text')).toEqual(['conversation', 'messages', 2, 'text']);
  });
});

async function post(service: TestService, event: Record<string, unknown>) {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

function api(service: TestService) {
  return async (method: 'GET' | 'POST', path: string, body?: unknown, type = 'application/json') => {
    const response = await fetch(`${service.url}/admin/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> };
  };
}

describeEachDialect('admin API: correct an event and retry its dead deliveries', () => {
  it('refuses an invalid correction by field path, then records a valid one and delivers the corrected event', async () => {
    const { sandbox, service } = await adminServiceWithWebhook({ secret, token: TOKEN, cleanups });
    const call = api(service);
    // The destination refuses the mistyped email for good.
    sandbox.failNext(1, { status: 422, body: '{"message":"email dana@acme is invalid"}' });
    const id = await post(service, leadEvent({ contact: { email: 'dana@acme', name: 'Dana Reyes' } }));
    await until(
      async () => (await call('GET', `/events/${id}`)).json.deliveries[0].status === 'dead',
      'dead',
    );
    const deliveryId = (await call('GET', `/events/${id}`)).json.deliveries[0].id as number;

    // Refused: wrong type, not JSON, no name, a bad email (by its path), an unknown event.
    const correction = { set: { 'contact.email': 'dana@acme.example' }, by: 'Sam (sales ops)' };
    expect((await call('POST', `/events/${id}/corrections`, correction, 'text/plain')).status).toBe(415);
    expect(await call('POST', `/events/${id}/corrections`, '{nope')).toMatchObject({
      status: 400,
      json: { error: 'bad_request' },
    });
    expect(
      await call('POST', `/events/${id}/corrections`, { set: { 'contact.email': 'x@y.example' } }),
    ).toMatchObject({ status: 400, json: { message: expect.stringContaining('"by"') } });
    const invalid = await call('POST', `/events/${id}/corrections`, {
      ...correction,
      set: { 'contact.email': 'dana at acme' },
    });
    expect(invalid).toMatchObject({
      status: 422,
      json: {
        error: 'invalid_event',
        details: [{ path: 'contact.email', message: 'is not an email address' }],
      },
    });
    expect(
      await call('POST', `/events/${id}/corrections`, { ...correction, set: { id: 'other' } }),
    ).toMatchObject({ status: 400, json: { details: [{ path: 'id' }] } });
    expect((await call('POST', '/events/ev_nope/corrections', correction)).status).toBe(404);
    // Nothing of the refused ones was stored, and the delivery is still dead.
    const untouched = (await call('GET', `/events/${id}`)).json;
    expect(untouched).toMatchObject({ receivedEvent: null, corrections: [] });
    expect(untouched.deliveries[0].status).toBe('dead');

    // Accepted: recorded, and the dead delivery retried with the corrected event.
    const accepted = await call('POST', `/events/${id}/corrections`, {
      ...correction,
      set: { 'contact.email': 'dana@acme.example', 'contact.company': 'Acme Corp' },
    });
    expect(accepted).toEqual({
      status: 202,
      json: {
        eventId: id,
        corrections: [
          { path: 'contact.email', from: 'dana@acme', to: 'dana@acme.example' },
          { path: 'contact.company', from: null, to: 'Acme Corp' },
        ],
        retried: [deliveryId],
      },
    });
    await until(() => sandbox.delivered().length === 1, 'the corrected event delivered');
    const sent = JSON.parse(sandbox.delivered()[0]!.body) as { contact: Record<string, string> };
    expect(sent.contact).toEqual({ email: 'dana@acme.example', name: 'Dana Reyes', company: 'Acme Corp' });

    const shown = (await call('GET', `/events/${id}`)).json;
    expect(shown.event.contact.email).toBe('dana@acme.example');
    expect(shown.receivedEvent.contact).toEqual({ email: 'dana@acme', name: 'Dana Reyes' });
    expect(shown.corrections).toEqual([
      {
        id: expect.any(Number),
        path: 'contact.email',
        from: 'dana@acme',
        to: 'dana@acme.example',
        by: 'Sam (sales ops)',
        client: '127.0.0.1',
        at: expect.any(Number),
      },
      expect.objectContaining({ path: 'contact.company', from: null, to: 'Acme Corp' }),
    ]);
    await until(async () => (await call('GET', `/events/${id}`)).json.deliveries[0].status === 'delivered');
    const delivered = (await call('GET', `/events/${id}`)).json.deliveries[0];
    expect(delivered.attempts).toBe(2);
    expect(delivered.attemptLog.map((a: { outcome: string }) => a.outcome)).toEqual(['dead', 'delivered']);

    // The dead list's lead (read by the database out of the stored JSON) is the corrected one.
    expect((await leadContacts(service.store, [id])).get(id)).toMatchObject({
      label: 'Dana Reyes',
      email: 'dana@acme.example',
      company: 'Acme Corp',
    });

    // The event is found by the corrected email and by the one that arrived.
    for (const email of ['dana%40acme.example', 'DANA%40acme'])
      expect(
        (await call('GET', `/events?email=${email}`)).json.events.map((e: { id: string }) => e.id),
      ).toEqual([id]);

    // Nothing is dead any more: a further correction is refused, and says why.
    expect(
      await call('POST', `/events/${id}/corrections`, {
        ...correction,
        set: { 'contact.phone': '+1 415 555 0100' },
      }),
    ).toMatchObject({ status: 409, json: { error: 'no_dead_delivery' } });

    // Retention deletes the corrections with their event.
    const far = Date.now() + 365 * 24 * 3600_000;
    await pruneOnce(service.store.db, { now: far, deliveredMs: 1000, eventsMs: 1000 });
    expect(await service.count('events')).toBe(0);
    const left = await service.store.db
      .selectFrom('event_corrections')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(0);
  });

  it('refuses a correction computed from an event someone else corrected meanwhile, changing nothing', async () => {
    const service = await startTestService(
      { sources: { site: { verify: { secrets: [secret] } } }, routes: [{ on: '*', to: ['hook'] }] },
      { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } },
    );
    cleanups.push(() => service.close());
    const id = await post(service, leadEvent({ contact: { email: 'dana@acme' } }));
    await service.store.db
      .updateTable('deliveries')
      .set({ status: 'dead', last_error: 'refused' })
      .where('event_id', '=', id)
      .execute();
    const base = { eventId: id, by: 'Sam', client: null, now: Date.now(), retry: true };
    const first = await recordCorrection(service.store.db, {
      ...base,
      basedOn: null,
      corrected: JSON.stringify({ contact: { email: 'dana@acme.example' } }),
      changes: [{ path: 'contact.email', oldValue: '"dana@acme"', newValue: '"dana@acme.example"' }],
    });
    expect(first).toEqual({ ok: true, retried: [expect.any(Number)] });
    await service.store.db
      .updateTable('deliveries')
      .set({ status: 'dead' })
      .where('event_id', '=', id)
      .execute();
    // Computed from the event as it arrived, not as the first operator left it.
    const stale = await recordCorrection(service.store.db, {
      ...base,
      basedOn: null,
      corrected: JSON.stringify({ contact: { email: 'dana@other.example' } }),
      changes: [{ path: 'contact.email', oldValue: '"dana@acme"', newValue: '"dana@other.example"' }],
    });
    expect(stale).toEqual({ ok: false, reason: 'changed' });
    const row = await service.store.db
      .selectFrom('events')
      .select('corrected_payload')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.corrected_payload!).contact.email).toBe('dana@acme.example');
    const delivery = await service.store.db
      .selectFrom('deliveries')
      .select('status')
      .where('event_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(delivery.status).toBe('dead');
    const corrections = await service.store.db.selectFrom('event_corrections').select('id').execute();
    expect(corrections).toHaveLength(1);
  });
});
