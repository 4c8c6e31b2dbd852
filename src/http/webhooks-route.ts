import type { Context } from 'koa';
import type { ConfigHolder } from '../config/config-holder.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import { receiveEvent } from '../ingest/receive-event.ts';
import { reject } from '../ingest/rejection.ts';
import type { EventToStore, StoredEvent } from '../outbox/store-events.ts';
import type { Logger } from '../util/logger.ts';
import { AddressSet, clientAddress } from './client-address.ts';
import { sendRejection } from './errors.ts';
import { BodyTooLargeError, discardRest, readRawBody } from './read-raw-body.ts';

export interface WebhooksRouteOptions {
  config: ConfigHolder;
  writer: GroupCommit<EventToStore, StoredEvent>;
  logger: Logger;
  /** Called after an event is committed, e.g. to wake the delivery worker. */
  onStored?: (stored: StoredEvent) => void;
  now?: () => number;
}

/**
 * `POST /webhooks/:source`. Cheap checks come first (unknown source, address,
 * content type, declared size) so that refused requests cost almost nothing
 * and are never read in full.
 */
export function webhooksRoute(options: WebhooksRouteOptions) {
  const now = options.now ?? Date.now;
  const addressSets = new WeakMap<LoadedConfig, { proxies: AddressSet; sources: Map<string, AddressSet> }>();
  let inflight = 0;

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
    const source = Object.hasOwn(config.main.sources, sourceName)
      ? config.main.sources[sourceName]
      : undefined;
    if (!source) return sendRejection(ctx, reject(404, 'unknown_source', `no source named "${sourceName}"`));

    const sets = addresses(config);
    const allowed = sets.sources.get(sourceName);
    if (allowed) {
      const client = clientAddress(
        ctx.req.socket.remoteAddress ?? '',
        ctx.get('x-forwarded-for'),
        sets.proxies,
      );
      if (!allowed.has(client)) {
        return sendRejection(
          ctx,
          reject(403, 'forbidden_address', `${client} is not allowed to post to this source`),
        );
      }
    }

    if (!isJson(ctx.get('content-type'))) {
      return sendRejection(ctx, reject(415, 'unsupported_media_type', 'send the event as application/json'));
    }
    if (inflight >= config.main.server.max_inflight) {
      return sendRejection(ctx, {
        ...reject(429, 'overloaded', 'leadrelay is shedding load; retry shortly'),
        headers: { 'Retry-After': '1' },
      });
    }

    inflight++;
    try {
      let body: Buffer;
      try {
        body = await readRawBody(ctx.req, config.main.server.body_limit);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          // A modest overflow is drained so that the client reads our answer
          // rather than a reset; anything larger is cut off with the connection.
          await discardRest(ctx.req, { maxBytes: 32 * 1024 * 1024, maxMs: 2_000 });
          ctx.set('Connection', 'close');
          return sendRejection(ctx, reject(413, 'payload_too_large', error.message));
        }
        throw error;
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
        return sendRejection(ctx, {
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
          { source: sourceName, status: outcome.status, error: outcome.error },
          'webhook refused',
        );
        return sendRejection(ctx, outcome);
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
      inflight--;
    }
  };
}

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
