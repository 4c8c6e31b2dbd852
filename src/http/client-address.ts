import { BlockList, isIP } from 'node:net';

/**
 * A set of addresses and CIDR blocks, IPv4 and IPv6; IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.1`) match their IPv4 form.
 */
export class AddressSet {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const cidr of cidrs) {
      const [address = '', prefix] = cidr.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  has(address: string): boolean {
    const plain = unmapIPv4(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }
}

export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The client's address: the socket peer, unless that peer is a trusted proxy,
 * in which case `X-Forwarded-For` is read right to left, skipping trusted
 * proxies — the first untrusted hop is the client. A forged header from an
 * untrusted peer is therefore ignored.
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trustedProxies: AddressSet,
): string {
  let address = unmapIPv4(peer);
  if (!forwardedFor || !trustedProxies.has(address)) return address;
  const hops = forwardedFor
    .split(',')
    .map((hop) => hop.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapIPv4(hops[i]!);
    if (isIP(hop) === 0) return address;
    address = hop;
    if (!trustedProxies.has(hop)) return hop;
  }
  return address;
}
