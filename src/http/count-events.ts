import type { Context, Next } from 'koa';
import type { ConfigHolder } from '../config/config-holder.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';

/**
 * Counts every `POST /webhooks/:source` by source, event type and outcome:
 * `accepted` (202), `ignored` (202, a mapped source's payload that maps to
 * no event), `duplicate` (200) or the rejection's error code
 * (`invalid_signature`, `invalid_event`, …). Labels never take free text
 * from the request: an unknown source is counted as `(unknown)` and the
 * type is only known, and only set, for stored events.
 */
export function countEvents(config: ConfigHolder, metrics: ServiceMetrics | undefined) {
  return async (ctx: Context & { params: { source: string } }, next: Next) => {
    if (!metrics) return next();
    let outcome = 'internal_error';
    try {
      await next();
      if (ctx.state.eventType === 'ignored' && ctx.status === 202) outcome = 'ignored';
      else if (ctx.status === 202) outcome = 'accepted';
      else if (ctx.status === 200) outcome = 'duplicate';
      // A refusal answered alike to the sender (e.g. an unknown source) still counts as what it was.
      else
        outcome =
          (typeof ctx.state.outcome === 'string' ? ctx.state.outcome : errorCode(ctx.body)) ??
          `http_${ctx.status}`;
    } finally {
      const source = Object.hasOwn(config.current.main.sources, ctx.params.source)
        ? ctx.params.source
        : '(unknown)';
      const type = typeof ctx.state.eventType === 'string' ? ctx.state.eventType : '';
      metrics.eventReceived(source, type, outcome);
    }
  };
}

function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' ? code : undefined;
}
