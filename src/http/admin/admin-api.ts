import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { listDeliveries } from '../../outbox/list-deliveries.ts';
import { listEvents } from '../../outbox/list-events.ts';
import { queueOverview } from '../../outbox/queue-overview.ts';
import { showEvent } from '../../outbox/show-event.ts';
import type { Logger } from '../../util/logger.ts';
import type { Reception } from '../reception.ts';
import { clientOf } from './client-of.ts';
import { parseCorrectionBody } from './correction-body.ts';
import { correctStoredEvent } from './corrections.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { type AdminDependencies, configStatus, replay, retryConnector, retryOne } from './operations.ts';
import {
  BadParameter,
  encodeCursor,
  one,
  parseCursor,
  parseDeliveryId,
  parseLimit,
  parseStatus,
  parseTime,
} from './params.ts';
import { readBody } from './read-body.ts';
import { tokenMatches } from './sessions.ts';

/** A correction names a few fields; a transcript message is the longest value it may set. */
const CORRECTION_LIMIT = 256 * 1024;

/**
 * `/admin/api/…`: JSON for scripts and dashboards. Every request carries the
 * admin token as `Authorization: Bearer TOKEN`; cookies are not accepted here,
 * so a browser session cannot be used to forge API calls (no CSRF surface).
 */
export function adminApi(
  deps: AdminDependencies & { token: string; throttle: LoginThrottle; reception: Reception; logger: Logger },
) {
  const router = new Router({ prefix: '/admin/api' });

  router.get('/events', async (ctx) => {
    const q = ctx.query;
    const page = await listEvents(deps.store, {
      type: one(q.type),
      source: one(q.source),
      email: one(q.email),
      from: parseTime('from', one(q.from)),
      to: parseTime('to', one(q.to)),
      cursor: parseCursor(one(q.cursor)),
      limit: parseLimit(one(q.limit), 50, 500),
    });
    ctx.body = { events: page.events, next: page.next ? encodeCursor(page.next) : null };
  });

  router.get('/events/:id', async (ctx) => {
    const detail = await showEvent(deps.store.db, ctx.params.id ?? '');
    if (!detail) return notFound(ctx, `no event with id "${ctx.params.id ?? ''}"`);
    ctx.body = detail;
  });

  router.post('/events/:id/replay', async (ctx) => {
    const outcome = await replay(deps, ctx.params.id ?? '');
    if (!outcome) return notFound(ctx, `no event with id "${ctx.params.id ?? ''}"`);
    ctx.status = 202;
    ctx.body = outcome;
  });

  router.post('/events/:id/corrections', async (ctx) => {
    // JSON only: a browser cannot send this type cross-site without a CORS preflight we never grant.
    if (!ctx.is('application/json')) {
      ctx.status = 415;
      ctx.body = {
        error: 'unsupported_media_type',
        message: 'send the correction as JSON (Content-Type: application/json)',
      };
      return;
    }
    const body = await readBody(ctx, deps, CORRECTION_LIMIT);
    if (!body.ok) {
      if ('refused' in body) {
        ctx.status = body.refused.status;
        ctx.body = { error: body.refused.code, message: body.refused.message };
      }
      return;
    }
    const request = parseCorrectionBody(body.text);
    if (typeof request === 'string') throw new BadParameter(request);
    const client = clientOf(ctx, deps.config);
    const outcome = await correctStoredEvent(deps, ctx.params.id ?? '', { ...request, client });
    if (!outcome.ok) {
      ctx.status = outcome.status;
      ctx.body = {
        error: outcome.error,
        message: outcome.message,
        ...(outcome.details ? { details: outcome.details } : {}),
      };
      return;
    }
    deps.logger.info(
      {
        event_id: outcome.eventId,
        fields: outcome.corrections.map((c) => c.path),
        by: request.by,
        ip: client,
      },
      'admin corrected an event',
    );
    ctx.status = outcome.retried.length > 0 ? 202 : 200;
    ctx.body = {
      eventId: outcome.eventId,
      corrections: outcome.corrections.map((c) => ({ path: c.path, from: c.from ?? null, to: c.to ?? null })),
      retried: outcome.retried,
    };
  });

  router.get('/deliveries', async (ctx) => {
    ctx.body = {
      deliveries: await listDeliveries(deps.store.db, {
        status: parseStatus(one(ctx.query.status)),
        connector: one(ctx.query.connector),
        limit: parseLimit(one(ctx.query.limit), 100, 1000),
      }),
    };
  });

  router.post('/deliveries/:id/retry', async (ctx) => {
    const id = parseDeliveryId(ctx.params.id ?? '');
    const outcome = await retryOne(deps, id);
    if (!outcome.ok) {
      ctx.status = outcome.status;
      ctx.body = { error: outcome.error, message: outcome.message };
      return;
    }
    ctx.status = 202;
    ctx.body = { retried: 1, ids: [id] };
  });

  router.post('/connectors/:connector/retry-dead', async (ctx) => {
    ctx.status = 202;
    ctx.body = {
      retried: await retryConnector(deps, ctx.params.connector ?? ''),
      connector: ctx.params.connector,
    };
  });

  router.get('/config', (ctx) => {
    ctx.body = configStatus(deps.config);
  });

  router.get('/queue', async (ctx) => {
    ctx.body = await queueOverview(deps.store.db, deps.now());
  });

  const routes = router.routes();
  return async (ctx: Context, next: Next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    const client = clientOf(ctx, deps.config);
    const wait = deps.throttle.blockedFor(client);
    if (wait > 0) {
      ctx.status = 429;
      ctx.set('Retry-After', String(Math.ceil(wait / 1000)));
      ctx.body = {
        error: 'too_many_attempts',
        message: 'too many wrong admin tokens from this address; wait and retry',
      };
      return;
    }
    if (!tokenMatches(deps.token, match?.[1])) {
      if (header) deps.throttle.failed(client);
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="leadrelay admin"');
      ctx.body = {
        error: 'unauthorized',
        message: header
          ? 'the admin token is not valid'
          : 'send the admin token as "Authorization: Bearer TOKEN"',
      };
      return;
    }
    deps.throttle.succeeded(client);
    ctx.set('Cache-Control', 'no-store');
    try {
      await routes(ctx as never, next);
    } catch (error) {
      if (!(error instanceof BadParameter)) throw error;
      ctx.status = 400;
      ctx.body = { error: 'bad_request', message: error.message };
    }
  };
}

function notFound(ctx: Context, message: string): void {
  ctx.status = 404;
  ctx.body = { error: 'not_found', message };
}
