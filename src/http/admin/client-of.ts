import type { Context } from 'koa';
import type { ConfigHolder } from '../../config/config-holder.ts';
import { AddressSet, clientAddress } from '../client-address.ts';

const proxySets = new WeakMap<object, AddressSet>();

function proxiesOf(config: ConfigHolder): AddressSet {
  const current = config.current;
  let set = proxySets.get(current);
  if (!set) {
    set = new AddressSet(current.main.server.trusted_proxies);
    proxySets.set(current, set);
  }
  return set;
}

/** The client's address: the peer's, or the forwarded one when the peer is a trusted proxy. */
export function clientOf(ctx: Context, config: ConfigHolder): string {
  return clientAddress(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for'), proxiesOf(config));
}

/** Whether the browser's request was HTTPS: ours directly, or a trusted proxy's X-Forwarded-Proto. */
export function requestWasHttps(ctx: Context, config: ConfigHolder): boolean {
  if ((ctx.req.socket as { encrypted?: boolean }).encrypted) return true;
  if (!proxiesOf(config).has(ctx.req.socket.remoteAddress ?? '')) return false;
  return ctx.get('x-forwarded-proto').split(',')[0]?.trim().toLowerCase() === 'https';
}
