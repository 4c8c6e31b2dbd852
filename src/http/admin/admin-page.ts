import Router from '@koa/router';
import type { Next } from 'koa';
import { queueOverview } from '../../outbox/queue-overview.ts';
import type { Logger } from '../../util/logger.ts';
import type { Reception } from '../reception.ts';
import { clientOf, requestWasHttps } from './client-of.ts';
import { deadRoutes } from './dead-page.ts';
import { eventRoutes } from './event-pages.ts';
import { formatAge, formatTime, type Html, html, page } from './html.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { type AdminDependencies, configStatus } from './operations.ts';
import { type PageContext, readForm, redirect, send } from './page-kit.ts';
import { BadParameter } from './params.ts';
import { previewAndSourcesRoutes } from './preview-and-sources.ts';
import { csrfMatches, SessionStore, tokenMatches } from './sessions.ts';

const COOKIE = 'leadrelay_admin';
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** A pasted event for the preview fits; anything else the page sends is far smaller. */
const FORM_LIMIT = 1024 * 1024;
/** The login form holds a token and nothing else. */
const LOGIN_LIMIT = 8 * 1024;

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

  deadRoutes(router, deps);
  eventRoutes(router, deps);
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
