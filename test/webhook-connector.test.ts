import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PermanentError } from '../connectors/errors.ts';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { previewEvent } from '../src/preview/preview-event.ts';
import { writeConnectorFiles } from './helpers/harness.ts';
import { leadEvent } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';

const dir = tempDir();
afterAll(dir.cleanup);

async function configWith(hook: Record<string, unknown>) {
  const file = join(dir.path, 'leadrelay.yaml');
  const routes = [{ on: '*', to: ['hook'] }];
  writeFileSync(file, stringify({ sources: {}, routes }));
  writeConnectorFiles(dir.path, { routes }, { hook: { type: 'webhook', ...hook } });
  return loadConfig(file, { env: {} });
}

describe('the webhook connector', () => {
  it('previews without the credentials it was configured with, whatever their header is called', async () => {
    const config = await configWith({
      url: 'https://ops:hunter2@hooks.example/in?code=azure-function-key&team=sales',
      headers: { 'X-Auth-Key': 'k-123456', 'X-Plain': 'also-fixed', 'X-Lead': '{{ contact.email }}' },
    });
    const [entry] = previewEvent(config, leadEvent({ contact: { email: 'dana@acme.example' } }));
    const shown = JSON.stringify(entry);
    for (const secret of ['hunter2', 'azure-function-key', 'k-123456', 'also-fixed'])
      expect(shown).not.toContain(secret);
    const [request] = entry!.requests;
    expect(request!.url).toBe('https://ops:••••••@hooks.example/in?code=••••••&team=••••••');
    // What the event fills in stays visible: checking it is what a preview is for.
    expect(request!.headers!['X-Lead']).toBe('dana@acme.example');
  });

  it('a header value the event fills with a line break is dead at once, without echoing the value', async () => {
    const sandbox = await WebhookSandbox.start();
    try {
      const config = await configWith({
        url: `${sandbox.url}/in`,
        headers: { 'X-Company': '{{ contact.company }}' },
      });
      const connector = config.connectors.get('hook')!;
      const event = leadEvent({ contact: { email: 'a@b.example', company: 'Acme\r\nX-Injected: yes' } });
      const failure = await connector
        .deliver({
          event,
          eventId: 'ev_1',
          deliveryId: 1,
          source: 'site',
          receivedAt: Date.now(),
          attempt: 1,
          related: {},
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(PermanentError);
      expect((failure as Error).message).toMatch(/header "X-Company" rendered a value that cannot be sent/);
      expect((failure as Error).message).not.toContain('Injected');
      expect(sandbox.delivered()).toHaveLength(0);
    } finally {
      await sandbox.close();
    }
  });
});
