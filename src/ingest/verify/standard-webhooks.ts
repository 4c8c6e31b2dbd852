import { signStandardWebhook } from '../../util/standard-webhooks-signature.ts';
import { constantTimeEqual } from './constant-time.ts';
import { decodeSignature } from './decode-signature.ts';
import { checkTimestamp, type HeaderLookup, rejected, VERIFIED, type Verdict } from './verdict.ts';

export interface StandardWebhooksOptions {
  /** `whsec_`-prefixed base64 keys; any may match, which is how keys are rotated. */
  secrets: readonly string[];
  toleranceMs: number;
}

/**
 * Standard Webhooks (standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${body}`, signatures listed in
 * `webhook-signature` as space-separated `v1,BASE64` entries.
 */
export function verifyStandardWebhooks(
  options: StandardWebhooksOptions,
  headers: HeaderLookup,
  body: Buffer,
  nowMs: number,
): Verdict {
  const id = headers('webhook-id');
  const timestamp = headers('webhook-timestamp');
  const signatures = headers('webhook-signature');
  if (!id || !timestamp || !signatures) {
    return rejected('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  const fresh = checkTimestamp(timestamp, options.toleranceMs, nowMs);
  if (!fresh.ok) return fresh;

  const offered = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .flatMap((entry) => decodeSignature(entry.slice(3), 'base64') ?? []);
  const prefix = Buffer.from(`${id}.${timestamp}.`, 'utf8');
  let matched = false;
  // Every secret and every signature is checked, so timing does not reveal which matched.
  for (const secret of options.secrets) {
    const expected = signStandardWebhook(secret, prefix, body);
    for (const signature of offered) matched = constantTimeEqual(expected, signature) || matched;
  }
  return matched ? VERIFIED : rejected('no signature matches');
}
