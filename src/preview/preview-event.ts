/**
 * What an event (or a platform's raw payload) becomes and what each routed
 * connector would send for it, sending nothing: one logic for
 * `leadrelay preview` and the admin page's preview.
 */
import type { DeliveryContext, PlannedRequest } from '../../connectors/types.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { validateCanonicalEvent } from '../event/canonical-event.ts';
import { routeEvent } from '../ingest/router.ts';
import { applySourceMap } from '../ingest/source-mapping.ts';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';

export interface PreviewEntry {
  connector: string;
  type: string;
  requests: PlannedRequest[];
}

/**
 * What each connector the event is routed to would send, computed by the
 * connectors' own `preview` (the same code that builds real requests).
 * Nothing is sent. `--connector` previews one connector even if no route
 * sends this event there.
 */
export function previewEvent(
  config: LoadedConfig,
  event: Record<string, unknown>,
  options: { connector?: string | undefined; source?: string | undefined } = {},
): PreviewEntry[] {
  const validated = validateCanonicalEvent(event);
  if (!validated.ok) {
    throw new PreviewError(
      `the event is not valid:\n${validated.errors.map((e) => `  ${e.path || '(event)'}: ${e.message}`).join('\n')}`,
    );
  }
  const source = options.source ?? Object.keys(config.main.sources)[0] ?? 'preview';
  let names: string[];
  if (options.connector) {
    if (!config.connectors.has(options.connector)) {
      const known = [...config.connectors.keys()];
      throw new PreviewError(
        `no connector named "${options.connector}"${didYouMeanSuffix(options.connector, known)}; defined: ${known.join(', ') || 'none'}`,
      );
    }
    names = [options.connector];
  } else {
    names = routeEvent(config.routes, source, validated.event);
  }
  const context: DeliveryContext = {
    event: { id: 'evt_preview', ...event },
    eventId: 'ev_preview',
    deliveryId: 0,
    source,
    receivedAt: Date.now(),
    attempt: 1,
    related: {},
  };
  return names.map((name) => {
    const connector = config.connectors.get(name)!;
    return { connector: name, type: connector.type, requests: connector.preview(context).map(maskSecrets) };
  });
}

const SECRET_HEADER = /auth|token|secret|key|signature|cookie|password|passwd|session|credential/i;

/** Preview output ends up in terminals and tickets: credentials never appear in it. */
function maskSecrets(request: PlannedRequest): PlannedRequest {
  if (!request.headers) return request;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (!SECRET_HEADER.test(name) || value.includes('…')) headers[name] = value;
    else headers[name] = /^(Bearer|Basic|token)\s/i.test(value) ? `${value.split(/\s/)[0]} ••••••` : '••••••';
  }
  return { ...request, headers };
}

/**
 * For `preview --source NAME RAW.json` on a mapped source: the canonical event
 * the raw payload becomes (as POST /webhooks/NAME would build it, without
 * request headers), or undefined when the source takes canonical events.
 */
export function mapRawPayload(
  config: LoadedConfig,
  sourceName: string,
  raw: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (!Object.hasOwn(config.main.sources, sourceName)) {
    const known = Object.keys(config.main.sources);
    throw new PreviewError(
      `no source named "${sourceName}"${didYouMeanSuffix(sourceName, known)}; defined: ${known.join(', ') || 'none'}`,
    );
  }
  const source = config.main.sources[sourceName]!;
  if (!source.map) return undefined;
  const text = JSON.stringify(raw);
  const mapped = applySourceMap(source.map, raw, () => undefined, text, {
    name: sourceName,
    base_url: source.base_url,
  });
  if (mapped.kind === 'ignored') {
    throw new PreviewError(
      `source "${sourceName}" maps this payload to no event (${mapped.reason}): it would be answered 202 and recorded as ignored`,
    );
  }
  if (mapped.kind === 'too_large')
    throw new PreviewError(
      `source "${sourceName}" refuses this payload: ${mapped.message} (422 too_many_items)`,
    );
  return mapped.event;
}

/** Human-readable form: one block per connector, each request as method, URL, headers and body. */
export function formatPreview(entries: PreviewEntry[]): string {
  if (entries.length === 0) return 'No route sends this event anywhere.';
  const blocks = entries.map((entry) => {
    const requests = entry.requests.map((request, i) => {
      const lines = [`${entry.requests.length > 1 ? `${i + 1}. ` : ''}${request.method} ${request.url}`];
      if (request.note) lines.push(`   (${request.note})`);
      for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`${name}: ${value}`);
      if (request.body !== undefined) {
        lines.push('');
        lines.push(typeof request.body === 'string' ? request.body : JSON.stringify(request.body, null, 2));
      }
      return lines.join('\n');
    });
    return [`── ${entry.connector} (${entry.type}) ──`, ...requests].join('\n\n');
  });
  return blocks.join('\n\n');
}

/** The input cannot be previewed (not an event, unknown connector or source): say what, no stack. */
export class PreviewError extends Error {
  override name = 'PreviewError';
}
