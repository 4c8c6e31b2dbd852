import { describe, expect, it } from 'vitest';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, untilAllDelivered } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

describe('a delivery slower than its lease', () => {
  it('keeps its lease while the destination is slow: one note, one attempt', async () => {
    const hubspot = await HubSpotSandbox.start();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['hubspot'] }],
        delivery: { poll_interval: '100ms', lease: '1s' },
      },
      {
        worker: true,
        connectors: {
          hubspot: { type: 'hubspot', access_token: 'pat-sandbox', base_url: hubspot.url, timeout: '30s' },
        },
      },
    );
    cleanups.push(
      () => hubspot.close(),
      () => service.close(),
    );
    // HubSpot takes three leases' time before it writes the note and answers.
    hubspot.failNext(1, { path: '/notes/batch/create', delayMs: 3_000 });
    const event = leadEvent({ contact: { email: 'slow@acme.example', name: 'Sol Slow' } });
    const body = JSON.stringify(event);
    await service.post('site', body, officialHeaders(secret, String(event.id), body));
    await untilAllDelivered(service);
    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    const row = await service.store.db
      .selectFrom('deliveries')
      .select(['attempts'])
      .executeTakeFirstOrThrow();
    expect(row.attempts).toBe(1);
  });
});
