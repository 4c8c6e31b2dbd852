import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './constant-time.ts';
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
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  const prefix = Buffer.from(`${id}.${timestamp}.`, 'utf8');
  let matched = false;
  // Every secret and every signature is checked, so timing does not reveal which matched.
  for (const secret of options.secrets) {
    const expected = signStandardWebhook(secret, prefix, body);
    for (const signature of offered) matched = constantTimeEqual(expected, signature) || matched;
  }
  return matched ? VERIFIED : rejected('no signature matches');
}

const decodedKeys = new Map<string, Buffer>();

function signStandardWebhook(secret: string, prefix: Buffer, body: Buffer): Buffer {
  let key = decodedKeys.get(secret);
  if (!key) {
    key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    if (decodedKeys.size > 1000) decodedKeys.clear();
    decodedKeys.set(secret, key);
  }
  return createHmac('sha256', key).update(prefix).update(body).digest();
}

/**
 * Headers for a Standard Webhooks request, as a sender would make them; used by
 * `leadrelay send-test`, the webhook connector and the tests.
 */
export function standardWebhookHeaders(
  secret: string,
  id: string,
  body: string | Buffer,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const signature = signStandardWebhook(secret, Buffer.from(`${id}.${timestampSeconds}.`, 'utf8'), raw);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${signature.toString('base64')}`,
  };
}
