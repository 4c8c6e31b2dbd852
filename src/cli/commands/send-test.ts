import { loadConfig } from '../../config/load-config.ts';
import { EVENT_TYPES, type EventType } from '../../event/canonical-event.ts';
import { sampleEvent } from '../../event/sample-events.ts';
import { signRequest } from '../../ingest/verify/verify-request.ts';
import { UsageError } from '../usage-error.ts';

export interface SendTestOptions {
  configPath: string;
  source?: string | undefined;
  type?: string | undefined;
  url?: string | undefined;
  /** How long to follow the deliveries afterwards (default 10 s; 0 skips it). */
  waitMs?: number | undefined;
  print: (line: string) => void;
}

/**
 * Signs a sample event of each type (or the one asked for) with the source's
 * first secret and posts it to a running server. Returns whether every event
 * was accepted.
 */
export async function sendTest(options: SendTestOptions): Promise<boolean> {
  const config = await loadConfig(options.configPath);
  const sourceNames = Object.keys(config.main.sources);
  const sourceName = options.source ?? sourceNames[0];
  if (!sourceName || !Object.hasOwn(config.main.sources, sourceName)) {
    throw new UsageError(
      `no source named "${options.source}"; configured: ${sourceNames.join(', ') || 'none'}`,
    );
  }
  if (options.type !== undefined && !EVENT_TYPES.includes(options.type as EventType)) {
    throw new UsageError(`--type must be one of ${EVENT_TYPES.join(', ')}`);
  }
  const types = options.type ? [options.type as EventType] : [...EVENT_TYPES];
  const source = config.main.sources[sourceName]!;
  if (source.format !== 'canonical') {
    // Its mapping would record every canonical sample as ignored: 202 and nothing delivered.
    throw new UsageError(
      `source "${sourceName}" takes ${source.format === 'mapped' ? 'its platform' : source.format}'s own payloads (format: ${source.format}), so the canonical sample events send-test posts would all be recorded as ignored. Use the platform's own "send test webhook", or try a saved payload without a server: leadrelay preview --source ${sourceName} PAYLOAD.json`,
    );
  }
  const base = options.url ?? `http://127.0.0.1:${config.main.server.port}`;
  const target = new URL(`/webhooks/${encodeURIComponent(sourceName)}`, base).toString();

  let allAccepted = true;
  const accepted: string[] = [];
  for (const type of types) {
    const event = sampleEvent(type);
    const body = JSON.stringify(event);
    const headers = signRequest(source.verify, body, String(event.id));
    let response: Response;
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    } catch (error) {
      throw new Error(
        `could not reach ${target}: ${(error as Error & { cause?: Error }).cause?.message ?? error}`,
      );
    }
    const text = await response.text();
    options.print(`${type.padEnd(24)} → ${response.status} ${text}`);
    if (response.status !== 202 && response.status !== 200) allAccepted = false;
    const stored = /"id":"([^"]+)"/.exec(text)?.[1];
    if (stored && (response.status === 202 || response.status === 200)) accepted.push(stored);
  }
  const waitMs = options.waitMs ?? 10_000;
  if (waitMs > 0 && accepted.length > 0)
    await followDeliveries(options.configPath, accepted, waitMs, options.print);
  return allAccepted;
}

/**
 * What became of each delivery, read from the database the server writes:
 * printed once each one is delivered, dead, or has failed an attempt (then
 * with its error and next try), or when `waitMs` is up. A newcomer's first
 * event must not silently retry for a day against a URL where nothing listens.
 */
async function followDeliveries(
  configPath: string,
  eventIds: string[],
  waitMs: number,
  print: (line: string) => void,
): Promise<void> {
  const { openExistingStore } = await import('./outbox-commands.ts');
  const { showEvent } = await import('../../outbox/show-event.ts');
  const store = await openExistingStore(configPath).catch(() => undefined);
  if (!store) return;
  try {
    const deadline = Date.now() + waitMs;
    const pending = new Set(eventIds);
    print('');
    while (pending.size > 0) {
      for (const id of [...pending]) {
        const detail = await showEvent(store.db, id);
        if (!detail) {
          // Another machine's server: its database is not this one.
          pending.delete(id);
          print(
            `${id}: not in this machine's database; follow it with leadrelay events show ${id} where the server runs`,
          );
          continue;
        }
        const settled = detail.deliveries.every(
          (delivery) =>
            delivery.status === 'delivered' || delivery.status === 'dead' || delivery.attempts > 0,
        );
        if (!settled && Date.now() < deadline) continue;
        pending.delete(id);
        for (const delivery of detail.deliveries)
          print(`${id} → ${delivery.connector}: ${deliveryNews(delivery)}`);
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await store.close();
  }
}

function deliveryNews(delivery: {
  status: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number;
}): string {
  if (delivery.status === 'delivered') return 'delivered';
  if (delivery.status === 'dead')
    return `dead: ${delivery.lastError ?? 'no reason recorded'} (leadrelay deliveries list --status dead)`;
  if (delivery.attempts === 0)
    return `${delivery.status}, not tried yet (is the worker running? leadrelay deliveries list)`;
  const inSeconds = Math.max(0, Math.round((delivery.nextAttemptAt - Date.now()) / 1000));
  const nothingListens = /ECONNREFUSED|connection refused/.test(delivery.lastError ?? '')
    ? '\n    nothing listens at that address; for the example `forward` connector run `npx leadrelay sandbox webhook`'
    : '';
  return `attempt ${delivery.attempts} failed: ${delivery.lastError ?? 'unknown error'}; next try in ${inSeconds} s — retried on delivery.retry_schedule (by default nine attempts over about 44½ hours), then dead${nothingListens}`;
}
