import type { LoadedConfig } from '../config/load-config.ts';
import type { SourceConfig } from '../config/main-schema.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import { validateCanonicalEvent } from '../event/canonical-event.ts';
import { identifiersOf } from '../identity/identifiers.ts';
import type { EventToStore, StoredEvent } from '../outbox/store-events.ts';
import { newId } from '../util/ids.ts';
import { orderingKey } from './ordering-key.ts';
import { parseJsonBody } from './parse-body.ts';
import { type Rejection, reject } from './rejection.ts';
import { routeEvent } from './router.ts';
import { applySourceMapInSlices } from './source-mapping.ts';
import { signedHeaders } from './verify/signed-headers.ts';
import type { HeaderLookup } from './verify/verdict.ts';
import { verifyRequest } from './verify/verify-request.ts';

export interface ReceivedRequest {
  sourceName: string;
  source: SourceConfig;
  /** The configuration this request is routed with, read once so a reload cannot split it. */
  config: LoadedConfig;
  headers: HeaderLookup;
  body: Buffer;
  receivedAt: number;
}

export type Accepted = {
  status: 200 | 202;
  body: { id: string; deliveries: number; ignored?: true };
  stored: StoredEvent;
  /** The event's type, for metrics and logs. */
  type: string;
};

/**
 * Verify → parse → validate → route → store, in that order: the signature is
 * checked over the exact bytes before anything looks inside them, and nothing
 * is written unless every check passed.
 */
export async function receiveEvent(
  request: ReceivedRequest,
  writer: GroupCommit<EventToStore, StoredEvent>,
): Promise<Accepted | Rejection> {
  const verdict = verifyRequest(request.source.verify, request.headers, request.body, request.receivedAt);
  if (!verdict.ok) return reject(401, 'invalid_signature', verdict.reason);

  const parsed = parseJsonBody(request.body);
  if (!parsed.ok) return parsed.rejection;

  let candidate: unknown = parsed.value;
  let text = parsed.text;
  let rawPayload: string | null = null;
  if (request.source.map) {
    // A mapped source (docs/sources.md): build the canonical event from the platform's payload.
    let mapped: Awaited<ReturnType<typeof applySourceMapInSlices>>;
    try {
      mapped = await applySourceMapInSlices(request.source.map, parsed.value, request.headers, request.body, {
        name: request.sourceName,
        base_url: request.source.base_url,
      });
    } catch (error) {
      // A template that failed on this payload (a limit it hit, a filter's error): the
      // sender's request is fine as far as it can tell, but nothing can be stored from it.
      return reject(
        422,
        'mapping_failed',
        `the source's map failed on this payload: ${(error as Error).message}`,
      );
    }
    if (mapped.kind === 'ignored') return storeIgnored(request, writer, mapped.id, parsed.text);
    if (mapped.kind === 'too_large')
      return reject(422, 'too_many_items', mapped.message, [{ path: mapped.path, message: mapped.message }]);
    candidate = mapped.event;
    text = JSON.stringify(mapped.event);
    rawPayload = parsed.text;
  }

  const validated = validateCanonicalEvent(candidate);
  if (!validated.ok) {
    const message = request.source.map
      ? "the source mapping produced an event that does not match the event schema (check the source's map)"
      : 'the event does not match the event schema';
    return reject(422, 'invalid_event', message, validated.errors);
  }
  const raw = candidate as Record<string, unknown>;
  // A header may key the event only when the signature covers it (Standard Webhooks signs
  // webhook-id); otherwise a replay with a new header value would be stored again.
  const headerId = signedHeaders(request.source.verify).includes('webhook-id')
    ? request.headers('webhook-id')
    : undefined;
  const externalId = validated.event.id ?? headerId;
  if (!externalId) {
    return reject(422, 'invalid_event', 'the event has no id', [
      {
        path: 'id',
        message:
          request.source.verify.scheme === 'standard-webhooks'
            ? 'give the event an id, or send a webhook-id header'
            : 'give the event an id (a webhook-id header counts only when the Standard Webhooks signature covers it)',
      },
    ]);
  }

  // The body as sent (not the validator's copy) is stored, so unknown fields
  // survive exactly for mappings; `id` is added when it came from a header.
  const payload = validated.event.id === undefined ? JSON.stringify({ ...raw, id: externalId }) : text;
  const connectors = routeEvent(request.config.routes, request.sourceName, validated.event);
  const stored = await writer.submit({
    id: newId('ev', request.receivedAt),
    source: request.sourceName,
    externalId,
    type: validated.event.type,
    receivedAt: request.receivedAt,
    occurredAt: validated.event.occurred_at ?? null,
    payload,
    rawPayload,
    connectors,
    orderingKey: orderingKey(validated.event),
    identifiers: identifiersOf(request.sourceName, validated.event),
  });
  return {
    status: stored.duplicate ? 200 : 202,
    body: { id: stored.id, deliveries: stored.deliveries },
    stored,
    type: validated.event.type,
  };
}

/**
 * A payload the source mapping turns into no event (a platform event nobody
 * routes): stored as `ignored` with no deliveries and answered 2xx, so the
 * platform stops retrying; a re-send with the same id is a duplicate.
 */
async function storeIgnored(
  request: ReceivedRequest,
  writer: GroupCommit<EventToStore, StoredEvent>,
  externalId: string,
  payload: string,
): Promise<Accepted> {
  const stored = await writer.submit({
    id: newId('ev', request.receivedAt),
    source: request.sourceName,
    externalId,
    type: 'ignored',
    status: 'ignored',
    receivedAt: request.receivedAt,
    occurredAt: null,
    payload,
    connectors: [],
    orderingKey: null,
  });
  return {
    status: stored.duplicate ? 200 : 202,
    body: { id: stored.id, deliveries: 0, ignored: true },
    stored,
    type: 'ignored',
  };
}
