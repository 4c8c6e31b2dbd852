import type { Context, Next } from 'koa';
import type { Logger } from '../../util/logger.ts';
import type { Reception } from '../reception.ts';
import { adminApi } from './admin-api.ts';
import { adminPage } from './admin-page.ts';
import { LoginThrottle } from './login-throttle.ts';
import type { AdminDependencies } from './operations.ts';

/**
 * Everything under `/admin` (SPEC §2): the JSON API at `/admin/api/…`
 * (Bearer token) and the web page elsewhere (token login → session cookie).
 * Mounted only when an admin token is configured; otherwise `/admin` is 404.
 */
export function adminSurface(
  deps: AdminDependencies & { token: string; logger: Logger; reception: Reception },
) {
  // One count of wrong tokens for the page and the API, so neither is a way around the other.
  const throttle = new LoginThrottle(deps.now);
  const api = adminApi({ ...deps, throttle });
  const page = adminPage({ ...deps, throttle });
  return async (ctx: Context, next: Next) => {
    const path = ctx.path;
    if (path === '/admin/api' || path.startsWith('/admin/api/')) return api(ctx, next);
    if (path === '/admin' || path.startsWith('/admin/')) return page(ctx, next);
    return next();
  };
}
