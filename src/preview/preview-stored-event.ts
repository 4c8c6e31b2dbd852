import type { Kysely } from 'kysely';
import type { LoadedConfig } from '../config/load-config.ts';
import type { Tables } from '../db/tables.ts';
import { validateCanonicalEvent } from '../event/canonical-event.ts';
import { explainRoutes, type RouteDecision } from '../ingest/router.ts';
import { applySourceMap } from '../ingest/source-mapping.ts';
import { type PreviewEntry, PreviewError, previewEvent } from './preview-event.ts';

/**
 * What an event that really arrived would become under the configuration
 * now on disk: the stored platform payload (including an ignored one) run
 * through the source's current `map`, the route decisions, and each routed
 * connector's requests. Nothing is sent or written. This is how an admin
 * tries an edited mapping on real traffic before it meets the next webhook.
 */
export interface StoredEventPreview {
  id: string;
  source: string;
  receivedAt: number;
  /** What was stored then: `accepted` with its type, or `ignored`. */
  stored: { status: string; type: string };
  /** What was run: the platform's body, or (canonical sources) the event itself. */
  input: 'platform payload' | 'canonical event' | 'canonical event (no platform payload kept)';
  /** Under the current files: an event, ignored, or refused (422), with why. */
  outcome:
    | { kind: 'event'; event: Record<string, unknown> }
    | { kind: 'ignored'; reason: string }
    | { kind: 'refused'; message: string };
  routes: RouteDecision[];
  connectors: PreviewEntry[];
}

/** Previews stored event `id` (leadrelay's `ev_…` or the platform's own id); throws PreviewError when it cannot. */
export async function previewStoredEvent(
  config: LoadedConfig,
  db: Kysely<Tables>,
  id: string,
): Promise<StoredEventPreview> {
  const row = await db
    .selectFrom('events')
    .select(['id', 'source', 'type', 'status', 'received_at', 'payload', 'raw_payload'])
    .where((eb) => eb.or([eb('id', '=', id), eb('external_id', '=', id)]))
    .orderBy('received_at')
    .executeTakeFirst();
  if (!row) throw new PreviewError(`no event with id "${id}" (leadrelay's ev_… id or the platform's own)`);
  const source = config.main.sources[row.source];
  if (!Object.hasOwn(config.main.sources, row.source) || !source) {
    throw new PreviewError(
      `event ${row.id} came from source "${row.source}", which the configuration no longer defines`,
    );
  }
  const base = {
    id: row.id,
    source: row.source,
    receivedAt: Number(row.received_at),
    stored: { status: row.status, type: row.type },
  };
  const platformPayload = row.status === 'ignored' ? row.payload : row.raw_payload;
  let input: StoredEventPreview['input'] = 'canonical event';
  let candidate: Record<string, unknown>;
  const nothingSent = (outcome: StoredEventPreview['outcome']): StoredEventPreview => ({
    ...base,
    input,
    outcome,
    routes: [],
    connectors: [],
  });
  if (source.map && platformPayload !== null) {
    input = 'platform payload';
    // Headers are not kept (they hold signatures): a template reading them renders empty here.
    const mapped = applySourceMap(source.map, JSON.parse(platformPayload), () => undefined, platformPayload, {
      name: row.source,
      base_url: source.base_url,
    });
    if (mapped.kind === 'ignored') return nothingSent({ kind: 'ignored', reason: mapped.reason });
    if (mapped.kind === 'too_large') return nothingSent({ kind: 'refused', message: mapped.message });
    candidate = mapped.event;
  } else {
    if (source.map) input = 'canonical event (no platform payload kept)';
    candidate = JSON.parse(row.payload) as Record<string, unknown>;
  }
  const validated = validateCanonicalEvent(candidate);
  if (!validated.ok) {
    const message = `the event does not match the event schema: ${validated.errors.map((e) => `${e.path || '(event)'}: ${e.message}`).join('; ')}`;
    return nothingSent({ kind: 'refused', message });
  }
  return {
    ...base,
    input,
    outcome: { kind: 'event', event: candidate },
    routes: explainRoutes(config.routes, row.source, validated.event),
    connectors: previewEvent(config, candidate, { source: row.source }),
  };
}

/** The preview as text: what was stored, what it becomes now, each route, then the requests. */
export function formatStoredPreview(
  preview: StoredEventPreview,
  formatRequests: (entries: PreviewEntry[]) => string,
): string {
  const lines = [
    `event ${preview.id} from ${preview.source}, received ${new Date(preview.receivedAt).toISOString()}, stored as ${preview.stored.status === 'ignored' ? 'ignored' : preview.stored.type}`,
    `run through the current configuration: the ${preview.input}`,
    '',
  ];
  const { outcome } = preview;
  if (outcome.kind === 'ignored') {
    lines.push(
      `── now: ignored (${outcome.reason}) ──`,
      'It would be answered 202 and recorded as ignored; nothing is delivered.',
    );
    return lines.join('\n');
  }
  if (outcome.kind === 'refused') {
    lines.push(`── now: refused (422) ──`, outcome.message);
    return lines.join('\n');
  }
  lines.push(
    `── now: ${String(outcome.event.type)} ──`,
    JSON.stringify(outcome.event, null, 2),
    '',
    '── routes ──',
  );
  if (preview.routes.length === 0) lines.push('(no routes)');
  for (const route of preview.routes) {
    const verdict = route.matched
      ? 'matches'
      : `no (${route.failed === 'when' ? 'its when: is false' : `not this ${route.failed}`})`;
    lines.push(`routes[${route.index}] → ${route.to.join(', ')}: ${verdict}`);
  }
  lines.push('', formatRequests(preview.connectors));
  return lines.join('\n');
}
