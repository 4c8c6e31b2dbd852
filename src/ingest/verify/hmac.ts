import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time.ts';
import { decodeSignature } from './decode-signature.ts';
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
  /**
   * When set, `header` is a list of `key=value` pairs separated by commas: the
   * timestamp under `timestamp`, one or more signatures under `signature`
   * (Tidio's `t=…,s=…,s=…`, Stripe-style `t=…,v1=…`).
   */
  headerFields?: { timestamp: string; signature: string } | undefined;
  toleranceMs: number;
}

/**
 * The many platforms that sign "HMAC of the body (maybe with a timestamp),
 * hex or base64, behind a prefix" (GitHub-style `sha256=…`, Chatwoot's
 * `{timestamp}.{body}`, Intercom's `sha1=…`, Crisp's `[{timestamp};{body}]`,
 * Tidio's `t=…,s=…` over `{body}_{timestamp}`). The timestamp may be Unix
 * seconds or milliseconds; it is signed as received and only read as a
 * number to check it is within the tolerance.
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
  let signatures: string[];
  if (options.headerFields) {
    const { timestamp: timestampKey, signature: signatureKey } = options.headerFields;
    const fields = parseHeaderFields(header);
    const offered = fields.get(signatureKey) ?? [];
    if (!fields.has(timestampKey) || offered.length === 0) {
      return rejected(`${options.header} must look like ${timestampKey}=TIMESTAMP,${signatureKey}=SIGNATURE`);
    }
    timestamp = fields.get(timestampKey)![0]!;
    const fresh = checkTimestamp(timestamp, options.toleranceMs, nowMs, true);
    if (!fresh.ok) return fresh;
    signatures = offered;
  } else {
    if (options.timestampHeader) {
      timestamp = headers(options.timestampHeader.toLowerCase()) ?? '';
      const fresh = checkTimestamp(timestamp || undefined, options.toleranceMs, nowMs, true);
      if (!fresh.ok) return fresh;
    }
    signatures = [header.trim()];
  }

  const offered: Buffer[] = [];
  for (const signature of signatures) {
    if (!signature.startsWith(options.prefix))
      return rejected(`signature must start with "${options.prefix}"`);
    const bytes = decodeSignature(signature.slice(options.prefix.length), options.encoding);
    if (!bytes) return rejected(`the signature is not ${options.encoding}`);
    offered.push(bytes);
  }

  let matched = false;
  // Every secret against every signature, so timing does not reveal which matched.
  for (const secret of options.secrets) {
    const expected = hmacDigest(options, secret, timestamp, body);
    for (const signature of offered) matched = constantTimeEqual(expected, signature) || matched;
  }
  return matched ? VERIFIED : rejected('no signature matches');
}

/** `t=1,s=ab,s=cd` → `t → [1]`, `s → [ab, cd]`; keys and values trimmed, pairs without `=` skipped. */
function parseHeaderFields(header: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at < 0) continue;
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (!value) continue;
    fields.set(key, [...(fields.get(key) ?? []), value]);
  }
  return fields;
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
