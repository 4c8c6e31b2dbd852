import { WebhookSandbox } from '../../sandboxes/webhook/index.ts';
import type { Cleanups } from './cleanups.ts';
import { startTestService } from './harness.ts';

/**
 * What the admin tests start: a service with its worker, an admin token, one
 * source and every event routed to a webhook sandbox, which the test makes
 * refuse events so that deliveries go dead.
 *
 * @example
 * const { sandbox, service } = await adminServiceWithWebhook({ secret, token: TOKEN, cleanups });
 * sandbox.failNext(1, { status: 422 });
 */
export async function adminServiceWithWebhook(options: {
  secret: string;
  token: string;
  cleanups: Cleanups;
  config?: Record<string, unknown>;
}) {
  const sandbox = await WebhookSandbox.start();
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [options.secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '50ms' },
      ...options.config,
    },
    {
      env: { LEADRELAY_ADMIN_TOKEN: options.token },
      worker: true,
      connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in` } },
    },
  );
  options.cleanups.push(
    () => sandbox.close(),
    () => service.close(),
  );
  return { sandbox, service };
}
