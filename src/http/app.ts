import Router from '@koa/router';
import Koa from 'koa';
import type { ConfigHolder } from '../config/config-holder.ts';
import type { Database } from '../db/database.ts';
import type { GroupCommit } from '../db/group-commit.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { EventToStore, StoredEvent } from '../outbox/store-events.ts';
import type { Logger } from '../util/logger.ts';
import { adminSurface } from './admin/admin.ts';
import { countEvents } from './count-events.ts';
import { Reception } from './reception.ts';
import { webhooksRoute } from './webhooks-route.ts';

export interface AppDependencies {
  config: ConfigHolder;
  store: Database;
  writer: GroupCommit<EventToStore, StoredEvent>;
  logger: Logger;
  onStored?: (stored: StoredEvent) => void;
  now?: () => number;
  /** `$LEADRELAY_ADMIN_TOKEN`: turns on `/admin` (SPEC §2); without it `/admin` is 404. */
  adminToken?: string | undefined;
  /** Wakes the in-process delivery worker after an admin retry or replay. */
  wakeWorker?: () => void;
  /** Counts webhooks and serves `GET /metrics` (SPEC §2). */
  metrics?: ServiceMetrics;
}

/** The HTTP surface of SPEC §2, as a Koa app (no listening socket: see `startServer`). */
export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const router = new Router();

  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
      }
    } catch (error) {
      // Never a stack trace in a response: the log has it.
      deps.logger.error({ err: error, method: ctx.method, path: ctx.path }, 'request failed');
      const status = (error as { status?: number }).status ?? 500;
      ctx.status = status >= 400 && status < 600 ? status : 500;
      ctx.body = {
        error: ctx.status === 500 ? 'internal_error' : 'request_error',
        message: ctx.status === 500 ? 'internal error' : (error as Error).message,
      };
    }
  });

  // One set of bounds on receiving for every route that reads a body (docs/security.md).
  const reception = new Reception(() => {
    const server = deps.config.current.main.server;
    return {
      maxInflight: server.max_inflight,
      maxInflightPerClient: server.max_inflight_per_client,
      maxBuffered: server.max_buffered,
      bodyTimeoutMs: server.body_timeout,
      minBodyRate: server.min_body_rate,
    };
  });
  router.post(
    '/webhooks/:source',
    countEvents(deps.config, deps.metrics),
    webhooksRoute({ ...deps, reception }),
  );

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const config = deps.config.current;
    // Unauthenticated, so it says whether, not what: no file path, and a rejected
    // change only by when (its text may hold substituted secrets; the log and the
    // admin page have it).
    const detail = {
      config: {
        loaded_at: config.loadedAt.toISOString(),
        ...(deps.config.lastError ? { rejected_change: { at: deps.config.lastError.at.toISOString() } } : {}),
      },
    };
    try {
      await deps.store.ping();
      ctx.body = { status: 'ready', database: 'ok', ...detail };
    } catch (error) {
      deps.logger.warn({ err: error }, 'readiness check: database does not answer');
      ctx.status = 503;
      ctx.body = { status: 'not_ready', database: 'unavailable', ...detail };
    }
  });

  router.get('/metrics', async (ctx) => {
    const metrics = deps.metrics;
    if (!metrics) return;
    const config = deps.config.current;
    metrics.receptionLoad(reception.load);
    ctx.body = await metrics.render(deps.store.db, [...config.connectors.keys()], (deps.now ?? Date.now)());
    ctx.type = metrics.contentType;
  });

  if (deps.adminToken) {
    app.use(
      adminSurface({
        token: deps.adminToken,
        config: deps.config,
        store: deps.store,
        logger: deps.logger,
        now: deps.now ?? Date.now,
        wake: deps.wakeWorker,
        reception,
      }),
    );
  }
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: false,
    }),
  );
  return app;
}
