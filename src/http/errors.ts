import type { Context } from 'koa';
import type { Rejection } from '../ingest/rejection.ts';

/** Writes the JSON error body of SPEC §2: `{error, message, details?}`. */
export function sendRejection(ctx: Context, rejection: Rejection): void {
  ctx.status = rejection.status;
  for (const [name, value] of Object.entries(rejection.headers ?? {})) ctx.set(name, value);
  ctx.body = {
    error: rejection.error,
    message: rejection.message,
    ...(rejection.details === undefined ? {} : { details: rejection.details }),
  };
}
