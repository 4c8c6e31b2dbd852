import type { Context, Next } from 'koa';
import type { Logger } from '../../util/logger.ts';
import type { Reception } from '../reception.ts';
import { adminApi } from './admin-api.ts';
import { adminPage } from './admin-page.ts';
import type { AdminDependencies } from './operations.ts';

/**
 * Everything under `/admin` (SPEC §2): the JSON API at `/admin/api/…`
 * (Bearer token) and the web page elsewhere (token login → session cookie).
 * Mounted only when an admin token is configured; otherwise `/admin` is 404.
 */
export function adminSurface(
  deps: AdminDependencies & { token: string; logger: Logger; reception: Reception },
) {
  const api = adminApi(deps);
  const page = adminPage(deps);
  return async (ctx: Context, next: Next) => {
    const path = ctx.path;
    if (path === '/admin/api' || path.startsWith('/admin/api/')) return api(ctx, next);
    if (path === '/admin' || path.startsWith('/admin/')) return page(ctx, next);
    return next();
  };
}
