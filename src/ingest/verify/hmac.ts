import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time.ts';
import { checkTimestamp, type HeaderLookup, rejected, VERIFIED, type Verdict } from './verdict.ts';

export interface HmacOptions {
  secrets: readonly string[];
  /** Header carrying the signature, e.g. `x-hub-signature`. */
  header: string;
  /** Text before the digest, e.g. `sha256=`. */
  prefix: string;
  encoding: 'hex' | 'base64';
  algorithm: 'sha256' | 'sha1' | 'sha512';
  /** What is signed: `{body}`, or e.g. `{timestamp}.{body}`. */
  signedContent: string;
  timestampHeader?: string | undefined;
  toleranceMs: number;
}

/**
 * The many platforms that sign "HMAC of the body (maybe with a timestamp),
 * hex or base64, behind a prefix" (GitHub-style `sha256=…`, Chatwoot,
 * Intercom's `sha1=…`).
 */
export function verifyHmac(
  options: HmacOptions,
  headers: HeaderLookup,
  body: Buffer,
  nowMs: number,
): Verdict {
  const header = headers(options.header.toLowerCase());
  if (!header) return rejected(`missing ${options.header} header`);
  let timestamp = '';
  if (options.timestampHeader) {
    timestamp = headers(options.timestampHeader.toLowerCase()) ?? '';
    const fresh = checkTimestamp(timestamp || undefined, options.toleranceMs, nowMs);
    if (!fresh.ok) return fresh;
  }
  const offered = header.trim().startsWith(options.prefix)
    ? header.trim().slice(options.prefix.length)
    : undefined;
  if (offered === undefined) return rejected(`signature must start with "${options.prefix}"`);
  const offeredBytes = Buffer.from(offered, options.encoding);

  let matched = false;
  for (const secret of options.secrets) {
    const expected = hmacDigest(options, secret, timestamp, body);
    matched = constantTimeEqual(expected, offeredBytes) || matched;
  }
  return matched ? VERIFIED : rejected('no signature matches');
}

/** The raw digest for `signedContent` with `{timestamp}` and `{body}` filled in, body as exact bytes. */
export function hmacDigest(
  options: Pick<HmacOptions, 'algorithm' | 'signedContent'>,
  secret: string,
  timestamp: string,
  body: Buffer,
): Buffer {
  const hmac = createHmac(options.algorithm, secret);
  const [before, after] = splitOnce(options.signedContent, '{body}');
  hmac.update(before.replaceAll('{timestamp}', timestamp), 'utf8');
  hmac.update(body);
  hmac.update(after.replaceAll('{timestamp}', timestamp), 'utf8');
  return hmac.digest();
}

function splitOnce(text: string, marker: string): [string, string] {
  const at = text.indexOf(marker);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + marker.length)];
}
