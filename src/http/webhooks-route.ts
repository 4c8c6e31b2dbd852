import type { Context } from 'koa';
import type { ConfigHolder } from '../config/config-holder.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import { receiveEvent } from '../ingest/receive-event.ts';
import { type Rejection, reject } from '../ingest/rejection.ts';
import type { EventToStore, StoredEvent } from '../outbox/store-events.ts';
import type { Logger } from '../util/logger.ts';
import { AddressSet, clientAddress } from './client-address.ts';
import { discardRest } from './discard-rest.ts';
import { sendRejection } from './errors.ts';
import { ClientGone, NotReceived, type Reception } from './reception.ts';

export interface WebhooksRouteOptions {
  config: ConfigHolder;
  writer: GroupCommit<EventToStore, StoredEvent>;
  logger: Logger;
  /** Bounds on receiving, shared with the admin surface (src/http/reception.ts). */
  reception: Reception;
  /** Called after an event is committed, e.g. to wake the delivery worker. */
  onStored?: (stored: StoredEvent) => void;
  now?: () => number;
}

/**
 * What every sender that has not proved who it is gets — whether the source
 * does not exist, the address is not allowed, or the signature is missing or
 * wrong — so that source names cannot be probed. The log says which.
 */
const NOT_SIGNED = reject(401, 'invalid_signature', 'the request is not signed for this source');

/**
 * `POST /webhooks/:source`. The order is the defence (docs/security.md):
 * the content type; a reception slot for this client (429); the body, within
 * its size, time and memory bounds (413, 408, 503); only then who sent it —
 * source, address, signature, all answered alike (401) — and, with a
 * processing slot of the service's own, the event itself.
 */
export function webhooksRoute(options: WebhooksRouteOptions) {
  const now = options.now ?? Date.now;
  const addressSets = new WeakMap<LoadedConfig, { proxies: AddressSet; sources: Map<string, AddressSet> }>();

  function addresses(config: LoadedConfig) {
    let sets = addressSets.get(config);
    if (!sets) {
      sets = { proxies: new AddressSet(config.main.server.trusted_proxies), sources: new Map() };
      for (const [name, source] of Object.entries(config.main.sources)) {
        if (source.allow_ips) sets.sources.set(name, new AddressSet(source.allow_ips));
      }
      addressSets.set(config, sets);
    }
    return sets;
  }

  return async (ctx: Context & { params: { source: string } }) => {
    const config = options.config.current;
    const sourceName = ctx.params.source;
    const refuse = (rejection: Rejection, outcome = rejection.error) => {
      ctx.state.outcome = outcome;
      sendRejection(ctx, rejection);
    };
    if (!isJson(ctx.get('content-type')))
      return refuse(reject(415, 'unsupported_media_type', 'send the event as application/json'));

    const sets = addresses(config);
    const client = clientAddress(
      ctx.req.socket.remoteAddress ?? '',
      ctx.get('x-forwarded-for'),
      sets.proxies,
    );
    let slot: ReturnType<Reception['enter']>;
    try {
      slot = options.reception.enter(client);
    } catch (error) {
      if (!(error instanceof NotReceived)) throw error;
      await discardRest(ctx.req, { maxBytes: 64 * 1024, maxMs: 1_000 });
      ctx.set('Connection', 'close');
      return refuse(notReceived(error));
    }
    try {
      let body: Buffer;
      try {
        body = await slot.read(ctx.req, config.main.server.body_limit);
      } catch (error) {
        if (error instanceof ClientGone) {
          // Counted, not logged as a failure: clients give up, and there is no one to answer.
          ctx.state.outcome = 'client_aborted';
          options.logger.debug({ source: sourceName, client }, 'client left before its body ended');
          return;
        }
        if (!(error instanceof NotReceived)) throw error;
        // A modest overflow is drained so that the client reads our answer
        // rather than a reset; a late or slow one gets its answer and the
        // connection is closed behind it, whatever it is still sending.
        if (error.status === 413) await discardRest(ctx.req, { maxBytes: 32 * 1024 * 1024, maxMs: 2_000 });
        else closeAfterAnswer(ctx);
        ctx.set('Connection', 'close');
        options.logger.info({ source: sourceName, client, error: error.message }, 'webhook not received');
        return refuse(notReceived(error));
      }

      const source = Object.hasOwn(config.main.sources, sourceName)
        ? config.main.sources[sourceName]
        : undefined;
      if (!source) {
        options.logger.info({ source: sourceName, client }, 'webhook refused: no source by that name');
        return refuse(NOT_SIGNED, 'unknown_source');
      }
      const allowed = sets.sources.get(sourceName);
      if (allowed && !allowed.has(client)) {
        options.logger.info({ source: sourceName, client }, 'webhook refused: address not in allow_ips');
        return refuse(NOT_SIGNED, 'forbidden_address');
      }

      const headers = (name: string) => {
        const value = ctx.req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      let outcome: Awaited<ReturnType<typeof receiveEvent>>;
      try {
        outcome = await receiveEvent(
          { sourceName, source, config, headers, body, receivedAt: now() },
          options.writer,
        );
      } catch (error) {
        options.logger.error({ err: error, source: sourceName }, 'could not store event');
        return refuse({
          ...reject(
            503,
            'store_unavailable',
            'the event could not be stored durably; it was not accepted, retry later',
          ),
          headers: { 'Retry-After': '5' },
        });
      }
      if ('error' in outcome) {
        options.logger.info(
          {
            source: sourceName,
            client,
            status: outcome.status,
            error: outcome.error,
            reason: outcome.message,
          },
          'webhook refused',
        );
        return refuse(outcome.status === 401 ? NOT_SIGNED : outcome, outcome.error);
      }
      ctx.status = outcome.status;
      ctx.body = outcome.body;
      ctx.state.eventType = outcome.type;
      options.logger.debug(
        {
          source: sourceName,
          event_id: outcome.body.id,
          type: outcome.type,
          duplicate: outcome.stored.duplicate,
        },
        'webhook accepted',
      );
      if (!outcome.stored.duplicate) options.onStored?.(outcome.stored);
    } finally {
      slot.leave();
    }
  };
}

function notReceived(error: NotReceived): Rejection {
  return {
    ...reject(error.status, error.code, error.message),
    ...(error.retryAfterSeconds ? { headers: { 'Retry-After': String(error.retryAfterSeconds) } } : {}),
  };
}

/** Ends the connection once the answer is out, or soon after if the client does not read it. */
function closeAfterAnswer(ctx: Context): void {
  const socket = ctx.req.socket;
  ctx.res.once('finish', () => socket.destroySoon());
  setTimeout(() => socket.destroy(), 2_000).unref();
}

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
