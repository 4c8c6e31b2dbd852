import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent } from './helpers/sign.ts';
import { until } from './helpers/until.ts';
import { postSigned } from './reliability/common.ts';

const REPO = join(import.meta.dirname, '..');
const secret = newSecret();
const cleanups = cleanupsAfter('each');

// A connector package as someone outside this repository would write it: in
// its own folder, with leadrelay installed as a dependency, importing only
// the public entry `leadrelay/connector`.
const CONNECTOR = `
import { commonSettings, defineConnectorType, limitsFrom, PermanentError, RetryableError, renderFields, templateMap, z } from 'leadrelay/connector';

export default defineConnectorType({
  type: 'crm-x',
  description: 'POST the mapped fields to CRM X',
  settings: z.strictObject({ ...commonSettings({ concurrency: 2 }), url: z.url(), fields: templateMap() }),
  create(name, settings) {
    const request = (event: Readonly<Record<string, unknown>>) => ({
      method: 'POST',
      url: settings.url,
      body: renderFields(settings.fields, event),
    });
    return {
      name,
      type: 'crm-x',
      limits: limitsFrom(settings),
      preview: (context) => [request(context.event)],
      async deliver(context) {
        const { url, body } = request(context.event);
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': context.eventId },
          body: JSON.stringify(body),
        });
        if (response.status === 422) throw new PermanentError(\`CRM X refused the lead\`, { statusCode: 422 });
        if (!response.ok) throw new RetryableError(\`CRM X answered \${response.status}\`, { statusCode: response.status });
        return { summary: \`HTTP \${response.status}\`, statusCode: response.status, data: { crm_x: true } };
      },
    };
  },
});
`;

describe('a connector type from outside the repository', () => {
  it('imports only leadrelay/connector, is loaded from its own folder, delivers, and its permanent errors are final', async () => {
    const home = mkdtempSync(join(tmpdir(), 'crm-x-connector-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    // What `npm install leadrelay` would leave: the package under node_modules.
    mkdirSync(join(home, 'node_modules'));
    symlinkSync(REPO, join(home, 'node_modules', 'leadrelay'), 'dir');
    writeFileSync(
      join(home, 'package.json'),
      JSON.stringify({ name: 'crm-x-connector', type: 'module', dependencies: { leadrelay: '*' } }),
    );
    writeFileSync(join(home, 'connector.ts'), CONNECTOR);

    const crm = await WebhookSandbox.start();
    cleanups.push(() => crm.close());
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['crmx'] }],
      },
      {
        connectors: {
          crmx: {
            type: join(home, 'connector.ts'),
            url: `${crm.url}/leads`,
            fields: { email: '{{ contact.email | lower }}', name: '{{ contact.name }}' },
          },
        },
      },
    );
    cleanups.push(() => service.close());
    const server = await startChildServer(service.configFile);
    cleanups.push(() => server.child.kill('SIGKILL'));

    const event = leadEvent({ contact: { email: 'Ada@Example.COM', name: 'Ada Lovelace' } });
    expect((await postSigned(server.url, secret, event)).status).toBe(202);
    await until(() => crm.delivered().length === 1, 'delivered to CRM X');
    expect(JSON.parse(crm.delivered()[0]!.body)).toEqual({ email: 'ada@example.com', name: 'Ada Lovelace' });
    await until(async () => {
      const row = await service.store.db
        .selectFrom('deliveries')
        .select(['status', 'result'])
        .executeTakeFirst();
      return row?.status === 'delivered' && JSON.parse(row.result!).crm_x === true;
    }, 'recorded as delivered');

    // The server runs compiled (dist/) while the connector's leadrelay/connector is the
    // TypeScript source: its PermanentError is another copy of the class, and must still
    // end the delivery rather than be retried as an unknown error.
    crm.failNext(1, { status: 422 });
    const refused = leadEvent({ contact: { email: 'grace@example.com', name: 'Grace Hopper' } });
    const answer = await postSigned(server.url, secret, refused);
    expect(answer.status).toBe(202);
    let last: unknown;
    await until(async () => {
      const row = await service.store.db
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'last_error'])
        .where('event_id', '=', String(answer.json.id))
        .executeTakeFirst();
      last = row;
      return row?.status === 'dead' && row.attempts === 1;
    }, 'the refused lead dead after one attempt').catch((error: Error) => {
      throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
    });
  });
});
