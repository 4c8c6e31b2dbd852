import type { Context } from 'koa';
import type { ConfigHolder } from '../../config/config-holder.ts';
import { ClientGone, NotReceived, type Reception } from '../reception.ts';
import { clientOf } from './client-of.ts';

/** A request body read, the answer to send instead, or nobody left to answer. */
export type ReadBody =
  | { ok: true; text: string }
  | { ok: false; refused: NotReceived }
  | { ok: false; gone: true };

/**
 * A POST's body, read under the same bounds as webhooks (a slot per client,
 * the memory budget, body deadline and rate): for the page's forms and the
 * API's JSON bodies, each of which answers a refusal its own way.
 *
 * @example
 * const body = await readBody(ctx, deps, 64 * 1024);
 * if (body.ok) JSON.parse(body.text);
 */
export async function readBody(
  ctx: Context,
  deps: { reception: Reception; config: ConfigHolder },
  limit: number,
): Promise<ReadBody> {
  const client = clientOf(ctx, deps.config);
  let slot: ReturnType<Reception['enter']> | undefined;
  try {
    slot = deps.reception.enter(client);
    return { ok: true, text: (await slot.read(ctx.req, limit)).toString('utf8') };
  } catch (error) {
    if (error instanceof ClientGone) return { ok: false, gone: true };
    if (!(error instanceof NotReceived)) throw error;
    ctx.set('Connection', 'close');
    if (error.retryAfterSeconds) ctx.set('Retry-After', String(error.retryAfterSeconds));
    return { ok: false, refused: error };
  } finally {
    slot?.leave();
  }
}
