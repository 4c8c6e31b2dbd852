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
  const base = options.url ?? `http://127.0.0.1:${config.main.server.port}`;
  const target = new URL(`/webhooks/${encodeURIComponent(sourceName)}`, base).toString();

  let allAccepted = true;
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
  }
  return allAccepted;
}
