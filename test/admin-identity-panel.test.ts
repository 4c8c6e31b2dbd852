import { describe, expect, it } from 'vitest';
import { recordIdentities } from '../src/identity/record-identities.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

const secret = newSecret();
const TOKEN = 'identity-panel-admin-token-0123456789';
const cleanups = cleanupsAfter('each');

describe('the admin event page shows who the person is in each destination', () => {
  it('lists the records the identity map holds for the event’s identifiers, and a conflict the connector reported, escaped', async () => {
    const service = await startTestService(
      { sources: { site: { verify: { secrets: [secret] } } }, routes: [{ on: '*', to: ['crm'] }] },
      { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } },
    );
    cleanups.push(() => service.close());
    const event = leadEvent({
      contact: { email: 'dana@acme.example', phone: '+1 415 555 0142', name: 'Dana' },
      conversation: { id: '<script>alert(1)</script>', messages: [{ role: 'user', text: 'hi' }] },
    });
    const body = JSON.stringify(event);
    const id = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );
    const conversation = 'conversation:site:<script>alert(1)</script>';
    await recordIdentities(
      service.store.db,
      {
        connector: 'crm',
        identifiers: [conversation, 'phone:+14155550142'],
        record: 'contact:101',
        eventId: 'ev_earlier',
      },
      1,
    );
    await recordIdentities(
      service.store.db,
      { connector: 'crm', identifiers: ['email:dana@acme.example'], record: 'contact:202', eventId: id },
      2,
    );
    await service.store.db
      .updateTable('deliveries')
      .set({
        status: 'delivered',
        result: JSON.stringify({
          conflict: {
            identifier: 'email:dana@acme.example',
            known: 'contact:101',
            used: 'contact:202',
            links: [
              { label: 'Open contact 101', url: 'https://app.hubspot.com/contacts/1/record/0-1/101' },
              { label: 'Open contact 202', url: 'javascript:alert(2)' },
            ],
          },
        }),
      })
      .where('event_id', '=', id)
      .execute();

    const login = await fetch(`${service.url}/admin/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: TOKEN }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await (await fetch(`${service.url}/admin/events/${id}`, { headers: { cookie } })).text();

    expect(page).toContain('This person in each destination');
    expect(page).toContain('<code>contact:101</code>');
    expect(page).toContain('<code>contact:202</code>');
    expect(page).toContain('<code>phone:+14155550142</code>');
    expect(page).toContain('One connector holds this person as more than one record');
    expect(page).toContain('Two records for one person');
    expect(page).toContain('href="https://app.hubspot.com/contacts/1/record/0-1/101"');
    // Attacker-controlled text stays text; a javascript: link never becomes one.
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('conversation:site:&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('href="javascript:');
  });
});
