import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { SANDBOX_DEFAULTS, SalesforceSandbox } from '../sandboxes/salesforce/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { until } from './helpers/until.ts';

/*
 * One rule for phone numbers in HubSpot and Salesforce (docs/configuration.md,
 * `mapping`): written in E.164 when readable, else as the visitor typed it;
 * matched only on E.164. Tidio's own `contact.created` example carries
 * "123 456 789" (test/fixtures/sources/README.md).
 */

const cleanups = cleanupsAfter('each');
const secret = newSecret();
const tidioExample = readFileSync(
  join(import.meta.dirname, 'fixtures', 'sources', 'tidio-contact-created.json'),
  'utf8',
);

async function setup(mapping: Record<string, unknown> = {}) {
  const hubspot = await HubSpotSandbox.start();
  const salesforce = await SalesforceSandbox.start();
  const service = await startTestService(
    {
      sources: { tidio: { format: 'tidio', verify: { secrets: [secret] } } },
      routes: [{ on: 'lead.qualified', to: ['hubspot', 'salesforce'] }],
      delivery: { poll_interval: '50ms' },
      mapping,
    },
    {
      worker: true,
      connectors: {
        hubspot: { type: 'hubspot', access_token: 'pat-sandbox', base_url: hubspot.url },
        salesforce: {
          type: 'salesforce',
          instance_url: salesforce.url,
          client_id: SANDBOX_DEFAULTS.clientId,
          client_secret: SANDBOX_DEFAULTS.clientSecret,
        },
      },
    },
  );
  cleanups.push(
    () => hubspot.close(),
    () => salesforce.close(),
    () => service.close(),
  );
  return { hubspot, salesforce, service };
}

async function postTidio(service: TestService, body: string): Promise<string> {
  const t = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', secret).update(`${body}_${t}`).digest('hex');
  const response = await service.post('tidio', body, { 'x-tidio-signature': `t=${t},s=${signature}` });
  expect(response.status).toBe(202);
  return String(response.json.id);
}

async function settledDeliveries(service: TestService, eventId: string) {
  let rows: { connector: string; status: string; last_error: string | null }[] = [];
  await until(
    async () => {
      rows = await service.store.db
        .selectFrom('deliveries')
        .select(['connector', 'status', 'last_error'])
        .where('event_id', '=', eventId)
        .orderBy('connector')
        .execute();
      return rows.length === 2 && rows.every((row) => ['delivered', 'dead'].includes(row.status));
    },
    `deliveries of ${eventId}`,
    30_000,
  );
  return rows;
}

describe('phone numbers: one rule for every CRM', () => {
  it('keeps Tidio\'s example phone "123 456 789" as written in both HubSpot and Salesforce', async () => {
    const { hubspot, salesforce, service } = await setup();
    const id = await postTidio(service, tidioExample);
    expect((await settledDeliveries(service, id)).map((row) => row.status)).toEqual([
      'delivered',
      'delivered',
    ]);
    const [contact] = [...hubspot.state.contacts.values()];
    expect(contact!.properties).toMatchObject({ email: 'john.doe@example.com', phone: '123 456 789' });
    expect(salesforce.leads[0]).toMatchObject({ Email: 'john.doe@example.com', Phone: '123 456 789' });
  });

  it('writes the E.164 form in both when mapping.phone_region makes the number readable', async () => {
    const { hubspot, salesforce, service } = await setup({ phone_region: 'PL' });
    const id = await postTidio(service, tidioExample);
    await settledDeliveries(service, id);
    expect([...hubspot.state.contacts.values()][0]!.properties.phone).toBe('+48123456789');
    expect(salesforce.leads[0]!.Phone).toBe('+48123456789');
  });

  it('never matches on an unreadable phone: a lead with only that fails at once in both, saying what to do', async () => {
    const { hubspot, salesforce, service } = await setup();
    const payload = JSON.parse(tidioExample);
    payload.content.email = null;
    const id = await postTidio(service, JSON.stringify(payload));
    const rows = await settledDeliveries(service, id);
    expect(rows.map((row) => row.status)).toEqual(['dead', 'dead']);
    for (const row of rows) {
      expect(row.last_error).toContain('"123 456 789" cannot be read as an international number');
      expect(row.last_error).toContain('mapping.phone_region (now US)');
    }
    expect(hubspot.state.contacts.size).toBe(0);
    expect(salesforce.leads).toEqual([]);
  });
});
