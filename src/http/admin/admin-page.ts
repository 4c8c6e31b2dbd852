import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { listDeliveries } from '../../outbox/list-deliveries.ts';
import { listEvents } from '../../outbox/list-events.ts';
import { queueOverview } from '../../outbox/queue-overview.ts';
import { showEvent } from '../../outbox/show-event.ts';
import type { Logger } from '../../util/logger.ts';
import { ClientGone, NotReceived, type Reception } from '../reception.ts';
import { clientOf, requestWasHttps } from './client-of.ts';
import { CONTENT_SECURITY_POLICY, formatAge, formatTime, type Html, html, page } from './html.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { type AdminDependencies, configStatus, replay, retryConnector, retryOne } from './operations.ts';
import { BadParameter, encodeCursor, one, parseCursor, parseDeliveryId } from './params.ts';
import { previewAndSourcesRoutes } from './preview-and-sources.ts';
import { csrfMatches, type Session, SessionStore, tokenMatches } from './sessions.ts';

const COOKIE = 'leadrelay_admin';
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** A pasted event for the preview fits; anything else the page sends is far smaller. */
const FORM_LIMIT = 1024 * 1024;
/** The login form holds a token and nothing else. */
const LOGIN_LIMIT = 8 * 1024;

type PageContext = Context & { state: { session?: Session; form?: URLSearchParams } };

/**
 * `/admin/…`: the server-rendered admin page. A token login creates a
 * session (see SessionStore); every other page needs one (else a redirect to
 * the login form), and every POST carries the session's CSRF token.
 */
export function adminPage(
  deps: AdminDependencies & { token: string; logger: Logger; reception: Reception; throttle: LoginThrottle },
) {
  const sessions = new SessionStore(SESSION_TTL_MS, deps.now);
  const router = new Router({ prefix: '/admin' });

  router.get('/login', (ctx) => {
    if (sessions.get(ctx.cookies.get(COOKIE))) return ctx.redirect('/admin/');
    send(ctx, 200, page('Log in', loginForm()));
  });

  router.post('/login', async (ctx: PageContext) => {
    const client = clientOf(ctx, deps.config);
    const wait = deps.throttle.blockedFor(client);
    if (wait > 0) {
      ctx.set('Retry-After', String(Math.ceil(wait / 1000)));
      return send(
        ctx,
        429,
        page(
          'Log in',
          loginForm(`Too many wrong tokens from this address; try again in ${Math.ceil(wait / 60_000)} min.`),
        ),
      );
    }
    const form = await readForm(ctx, deps, LOGIN_LIMIT);
    if (!form) return;
    if (!tokenMatches(deps.token, form.get('token') ?? undefined)) {
      deps.throttle.failed(client);
      deps.logger.warn({ ip: client }, 'admin login refused: wrong token');
      return send(ctx, 401, page('Log in', loginForm('That is not the admin token.')));
    }
    deps.throttle.succeeded(client);
    const { id } = sessions.create();
    // Behind a TLS-terminating proxy the connection here is plain HTTP; the
    // proxy's X-Forwarded-Proto (believed only from trusted_proxies) says what
    // the browser used, and a cookie sent over HTTPS must never travel without it.
    const secure = requestWasHttps(ctx, deps.config);
    ctx.cookies.secure = secure;
    ctx.cookies.set(COOKIE, id, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/admin',
      secure,
      maxAge: SESSION_TTL_MS,
      overwrite: true,
    });
    deps.logger.info({ ip: client }, 'admin logged in');
    redirect(ctx, '/admin/');
  });

  router.post('/logout', (ctx: PageContext) => {
    sessions.delete(ctx.cookies.get(COOKIE));
    ctx.cookies.set(COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/admin', maxAge: 0 });
    redirect(ctx, '/admin/login');
  });

  router.get('/', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const queue = await queueOverview(deps.store.db, deps.now());
    const status = configStatus(deps.config);
    const names = [...new Set([...status.connectors.map((c) => c.name), ...Object.keys(queue.byConnector)])];
    const rows = names.sort().map((name) => {
      const counts = queue.byConnector[name] ?? { pending: 0, leased: 0, delivered: 0, dead: 0 };
      return html`<tr><td>${name}</td><td class="n">${counts.pending}</td><td class="n">${counts.leased}</td>
<td class="n">${counts.delivered}</td><td class="n">${counts.dead > 0 ? html`<a class="s-dead" href="/admin/dead?connector=${encodeURIComponent(name)}">${counts.dead}</a>` : '0'}</td>
<td>${formatAge(queue.oldestPendingAgeMsByConnector[name])}</td></tr>`;
    });
    const t = queue.totals;
    send(
      ctx,
      200,
      page(
        'Queue',
        html`<table><thead><tr><th>connector</th><th>pending</th><th>leased</th><th>delivered</th><th>dead</th><th>oldest pending</th></tr></thead>
<tbody>${rows}</tbody><tfoot><tr><th>all</th><td class="n">${t.pending}</td><td class="n">${t.leased}</td><td class="n">${t.delivered}</td><td class="n">${t.dead}</td><td>${formatAge(queue.oldestPendingAgeMs)}</td></tr></tfoot></table>
<h2>Configuration</h2>
<table><tbody><tr><th>file</th><td>${status.file}</td></tr><tr><th>loaded</th><td>${formatTime(Date.parse(status.loadedAt))}</td></tr>
<tr><th>last rejected change</th><td>${status.lastRejectedChange ? html`<span class="s-dead">${formatTime(Date.parse(status.lastRejectedChange.at))}</span><pre>${status.lastRejectedChange.error}</pre>` : 'none'}</td></tr>
<tr><th>connectors</th><td>${status.connectors.map((c) => html`${c.name} <span class="muted">(${c.type})</span><br>`)}</td></tr></tbody></table>`,
        { csrf },
      ),
    );
  });

  router.get('/dead', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const connector = one(ctx.query.connector);
    const dead = await listDeliveries(deps.store.db, { status: 'dead', connector, limit: 200 });
    const connectors = [...new Set(dead.map((d) => d.connector))].sort();
    const flash = flashMessage(ctx);
    send(
      ctx,
      200,
      page(
        connector ? `Dead deliveries to ${connector}` : 'Dead deliveries',
        html`${flash}${
          dead.length === 0
            ? html`<p>No dead deliveries.</p>`
            : html`<table><thead><tr><th>delivery</th><th>event</th><th>type</th><th>connector</th><th>attempts</th><th>died</th><th>error</th><th></th></tr></thead><tbody>
${dead.map(
  (
    d,
  ) => html`<tr id="delivery-${d.id}"><td class="n">${d.id}</td><td><a href="/admin/events/${encodeURIComponent(d.eventId)}">${d.eventId}</a></td>
<td>${d.type}</td><td>${d.connector}</td><td class="n">${d.attempts}</td><td>${formatTime(d.updatedAt)}</td><td>${d.lastError}</td>
<td>${retryButton(d.id, csrf, '/admin/dead')}</td></tr>`,
)}</tbody></table>
${connectors.map(
  (
    name,
  ) => html`<form class="inline" method="post" action="/admin/connectors/${encodeURIComponent(name)}/retry-dead">
<input type="hidden" name="csrf" value="${csrf}"><button type="submit">Retry all dead for ${name}</button></form> `,
)}`
        }`,
        { csrf },
      ),
    );
  });

  router.post('/deliveries/:id/retry', async (ctx: PageContext) => {
    const id = parseDeliveryId(ctx.params.id ?? '');
    const outcome = await retryOne(deps, id);
    const back = ctx.state.form?.get('back') === 'event' ? ctx.state.form.get('event') : undefined;
    const target = back ? `/admin/events/${encodeURIComponent(back)}` : '/admin/dead';
    redirect(
      ctx,
      `${target}?${outcome.ok ? `retried=${id}` : `error=${encodeURIComponent(outcome.message)}`}`,
    );
  });

  router.post('/connectors/:connector/retry-dead', async (ctx: PageContext) => {
    const count = await retryConnector(deps, ctx.params.connector ?? '');
    redirect(ctx, `/admin/dead?requeued=${count}`);
  });

  router.get('/events', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const filter = { type: one(ctx.query.type), source: one(ctx.query.source), email: one(ctx.query.email) };
    const result = await listEvents(deps.store, {
      ...filter,
      cursor: parseCursor(one(ctx.query.cursor)),
      limit: 50,
    });
    const more = new URLSearchParams(
      Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    if (result.next) more.set('cursor', encodeCursor(result.next));
    send(
      ctx,
      200,
      page(
        'Events',
        html`<form method="get" action="/admin/events">
<input type="text" name="email" placeholder="contact email" value="${filter.email ?? ''}">
<input type="text" name="type" placeholder="type" value="${filter.type ?? ''}">
<input type="text" name="source" placeholder="source" value="${filter.source ?? ''}">
<button type="submit">Search</button></form>
<table><thead><tr><th>received</th><th>event</th><th>type</th><th>source</th><th>contact</th></tr></thead><tbody>
${result.events.map(
  (
    e,
  ) => html`<tr><td>${formatTime(e.receivedAt)}</td><td><a href="/admin/events/${encodeURIComponent(e.id)}">${e.id}</a><br><span class="muted">${e.externalId}</span></td>
<td>${e.type}</td><td>${e.source}</td><td>${e.contactEmail}</td></tr>`,
)}</tbody></table>
${result.events.length === 0 ? html`<p>No events match.</p>` : ''}
${result.next ? html`<a href="/admin/events?${more.toString()}">Older →</a>` : ''}`,
        { csrf },
      ),
    );
  });

  router.get('/events/:id', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const detail = await showEvent(deps.store.db, ctx.params.id ?? '');
    if (!detail) return send(ctx, 404, page('Not found', html`<p>No event with that id.</p>`, { csrf }));
    const email = (detail.event.contact as { email?: unknown } | undefined)?.email;
    send(
      ctx,
      200,
      page(
        `Event ${detail.id}`,
        html`${flashMessage(ctx)}
<table><tbody><tr><th>platform id</th><td>${detail.externalId}</td></tr><tr><th>type</th><td>${detail.type}</td></tr>
<tr><th>source</th><td>${detail.source}</td></tr><tr><th>received</th><td>${formatTime(detail.receivedAt)}</td></tr>
<tr><th>contact</th><td>${typeof email === 'string' ? email : ''}</td></tr></tbody></table>
<form method="post" action="/admin/events/${encodeURIComponent(detail.id)}/replay"><input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Replay to current routes</button></form>
<p><a href="/admin/preview?event=${encodeURIComponent(detail.id)}">Preview under the configuration files on disk now</a> (nothing is sent)</p>
${detail.deliveries.length === 0 ? html`<p>Routed to no connector.</p>` : ''}
${detail.deliveries.map(
  (
    d,
  ) => html`<h2 id="delivery-${d.id}">→ ${d.connector}: <span class="s-${d.status} delivery-status">${d.status}</span>
<span class="muted">(delivery ${d.id}, ${d.attempts} attempt(s))</span></h2>
${d.lastError ? html`<p class="err">${d.lastError}</p>` : ''}
${d.result ? html`<p>result: <code>${JSON.stringify(d.result)}</code></p>` : ''}
${d.status === 'dead' ? retryButton(d.id, csrf, 'event', detail.id) : ''}
<table><thead><tr><th>started</th><th>outcome</th><th>status</th><th>took</th><th>request</th><th>response / error</th></tr></thead><tbody>
${d.attemptLog.map(
  (
    a,
  ) => html`<tr><td>${formatTime(a.startedAt)}</td><td class="s-${a.outcome}">${a.outcome}</td><td>${a.statusCode}</td>
<td class="n">${a.durationMs} ms</td><td>${a.requestSummary}</td><td>${a.error ?? a.responseSummary}</td></tr>`,
)}${d.attemptLog.length === 0 ? html`<tr><td colspan="6" class="muted">no attempt yet</td></tr>` : ''}</tbody></table>`,
)}
<details><summary>Event JSON</summary><pre>${JSON.stringify(detail.event, null, 2)}</pre></details>`,
        { csrf },
      ),
    );
  });

  router.post('/events/:id/replay', async (ctx: PageContext) => {
    const outcome = await replay(deps, ctx.params.id ?? '');
    if (!outcome) return redirect(ctx, '/admin/events');
    const message =
      outcome.deliveries.length === 0
        ? 'No route sends this event anywhere under the current configuration.'
        : `Queued again for ${outcome.connectors.join(', ')}.`;
    redirect(ctx, `/admin/events/${encodeURIComponent(outcome.eventId)}?msg=${encodeURIComponent(message)}`);
  });

  previewAndSourcesRoutes(router, deps, send);

  const routes = router.routes();
  return async (ctx: PageContext, next: Next) => {
    if (ctx.path === '/admin') return ctx.redirect('/admin/');
    try {
      if (ctx.path !== '/admin/login') {
        const session = sessions.get(ctx.cookies.get(COOKIE));
        if (!session) {
          if (ctx.method === 'GET' || ctx.method === 'HEAD') return redirect(ctx, '/admin/login');
          return send(ctx, 401, page('Log in', loginForm('Your session has ended; log in again.')));
        }
        ctx.state.session = session;
        if (ctx.method === 'POST') {
          const form = await readForm(ctx, deps, FORM_LIMIT);
          if (!form) return;
          if (!csrfMatches(session, form.get('csrf'))) {
            return send(
              ctx,
              403,
              page(
                'Refused',
                html`<p class="err">This form has expired; go back, reload and try again.</p>`,
                { csrf: session.csrf },
              ),
            );
          }
          ctx.state.form = form;
        }
      }
      await routes(ctx as never, next);
      if (ctx.status === 404 && ctx.body === undefined)
        send(
          ctx,
          404,
          page('Not found', html`<p>No such admin page.</p>`, { csrf: ctx.state.session?.csrf }),
        );
    } catch (error) {
      if (error instanceof BadParameter) {
        return send(
          ctx,
          400,
          page('Bad request', html`<p class="err">${error.message}</p>`, { csrf: ctx.state.session?.csrf }),
        );
      }
      // Never a stack trace in a page: the log has it.
      deps.logger.error({ err: error, method: ctx.method, path: ctx.path }, 'admin page failed');
      send(
        ctx,
        500,
        page('Error', html`<p class="err">Something went wrong; the server log has the details.</p>`, {
          csrf: ctx.state.session?.csrf,
        }),
      );
    }
  };
}

function loginForm(error?: string): Html {
  return html`${error ? html`<p class="err">${error}</p>` : ''}
<form method="post" action="/admin/login"><p><label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Log in</button></p></form>`;
}

function retryButton(id: number, csrf: string, back: string, eventId?: string): Html {
  return html`<form class="inline" method="post" action="/admin/deliveries/${id}/retry"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="back" value="${back}">${eventId ? html`<input type="hidden" name="event" value="${eventId}">` : ''}
<button type="submit">Retry</button></form>`;
}

function flashMessage(ctx: Context): Html {
  const retried = one(ctx.query.retried);
  const requeued = one(ctx.query.requeued);
  const message = one(ctx.query.msg);
  const error = one(ctx.query.error);
  if (error) return html`<p class="err">${error}</p>`;
  if (retried) return html`<p class="msg">Delivery ${retried} queued again.</p>`;
  if (requeued) return html`<p class="msg">${requeued} dead deliveries queued again.</p>`;
  if (message) return html`<p class="msg">${message}</p>`;
  return html``;
}

function send(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

/** 303: the browser follows a POST's answer with a GET. */
function redirect(ctx: Context, to: string): void {
  ctx.status = 303;
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(to);
}

/**
 * The form of a POST, read under the same bounds as webhooks (a slot per
 * client, the memory budget, body deadline and rate), or undefined when an
 * answer has been sent instead.
 */
async function readForm(
  ctx: Context,
  deps: { reception: Reception; config: AdminDependencies['config'] },
  limit: number,
): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    send(ctx, 415, page('Unsupported', html`<p class="err">Send this form from the admin page.</p>`));
    return undefined;
  }
  const client = clientOf(ctx, deps.config);
  let slot: ReturnType<Reception['enter']> | undefined;
  try {
    slot = deps.reception.enter(client);
    return new URLSearchParams((await slot.read(ctx.req, limit)).toString('utf8'));
  } catch (error) {
    if (error instanceof ClientGone) return undefined;
    if (!(error instanceof NotReceived)) throw error;
    ctx.set('Connection', 'close');
    if (error.retryAfterSeconds) ctx.set('Retry-After', String(error.retryAfterSeconds));
    const what =
      error.status === 413 ? `The form is larger than ${Math.round(limit / 1024)} KiB.` : error.message;
    send(ctx, error.status, page('Not received', html`<p class="err">${what}</p>`));
    return undefined;
  } finally {
    slot?.leave();
  }
}
