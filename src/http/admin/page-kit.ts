import type { Context } from 'koa';
import type { ConfigHolder } from '../../config/config-holder.ts';
import type { Reception } from '../reception.ts';
import { CONTENT_SECURITY_POLICY, type Html, html, page } from './html.ts';
import { one } from './params.ts';
import { readBody } from './read-body.ts';
import type { Session } from './sessions.ts';

/** What every page route sees: the session (checked before it runs) and a POST's form (CSRF checked). */
export type PageContext = Context & { state: { session?: Session; form?: URLSearchParams } };

/** An HTML answer with the admin page's security headers. */
export function send(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  securityHeaders(ctx);
  ctx.body = body;
}

/** A JSON answer for the page's own script, with the same headers. */
export function sendJson(ctx: Context, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = 'application/json; charset=utf-8';
  securityHeaders(ctx);
  ctx.body = JSON.stringify(body);
}

function securityHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
}

/** 303: the browser follows a POST's answer with a GET. */
export function redirect(ctx: Context, to: string): void {
  ctx.status = 303;
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(to);
}

/**
 * The form of a POST (see readBody for the bounds), or undefined when an
 * answer has been sent instead.
 */
export async function readForm(
  ctx: Context,
  deps: { reception: Reception; config: ConfigHolder },
  limit: number,
): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    send(ctx, 415, page('Unsupported', html`<p class="err">Send this form from the admin page.</p>`));
    return undefined;
  }
  const body = await readBody(ctx, deps, limit);
  if (body.ok) return new URLSearchParams(body.text);
  if ('refused' in body) {
    const what =
      body.refused.status === 413
        ? `The form is larger than ${Math.round(limit / 1024)} KiB.`
        : body.refused.message;
    send(ctx, body.refused.status, page('Not received', html`<p class="err">${what}</p>`));
  }
  return undefined;
}

/** A Retry button for one dead delivery; after it, the page named by `back` follows the delivery. */
export function retryButton(id: number, csrf: string, back: 'dead' | 'event', eventId?: string): Html {
  return html`<form class="inline" method="post" action="/admin/deliveries/${id}/retry"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="back" value="${back}">${eventId ? html`<input type="hidden" name="event" value="${eventId}">` : ''}
<button type="submit">Retry</button></form>`;
}

/** The message a redirect after an action carries in its query. */
export function flashMessage(ctx: Context): Html {
  const retried = one(ctx.query.retried);
  const requeued = one(ctx.query.requeued);
  const message = one(ctx.query.msg);
  const error = one(ctx.query.error);
  if (error) return html`<p class="err">${error}</p>`;
  if (retried) return html`<p class="msg">Delivery ${retried} queued again; following it below.</p>`;
  if (requeued) return html`<p class="msg">${requeued} dead deliveries queued again.</p>`;
  if (message) return html`<p class="msg">${message}</p>`;
  return html``;
}
