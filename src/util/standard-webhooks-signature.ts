// Standard Webhooks signing (https://www.standardwebhooks.com): shared by the
// verifier in ingest and by the senders (the webhook connector, send-test), so
// neither has to reach into the other.
import { createHmac } from 'node:crypto';

const decodedKeys = new Map<string, Buffer>();

/** HMAC-SHA256 of `prefix` + `body` under a `whsec_…` secret: the signature both sides compute. */
export function signStandardWebhook(secret: string, prefix: Buffer, body: Buffer): Buffer {
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
