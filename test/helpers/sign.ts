import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Standard Webhooks headers made by the official `standardwebhooks` package, not by our code. */
export function officialHeaders(
  secret: string,
  id: string,
  body: string,
  at: Date = new Date(),
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/**
 * Chatwoot's webhook headers, computed the way Chatwoot documents them (hex
 * HMAC-SHA256 of `{timestamp}.{raw body}`), not with leadrelay's verifier.
 */
export function chatwootHeaders(secret: string, body: string, at: Date = new Date()): Record<string, string> {
  const ts = String(Math.floor(at.getTime() / 1000));
  return {
    'X-Chatwoot-Signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`,
    'X-Chatwoot-Timestamp': ts,
  };
}

let counter = 0;

export function leadEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter++;
  return {
    id: `evt_${process.pid}_${Date.now()}_${counter}`,
    type: 'lead.qualified',
    occurred_at: '2026-11-25T10:04:00Z',
    contact: { email: `lead${counter}@acme.example`, name: 'Dana Reyes', company: 'Acme Corp' },
    conversation: { id: `conv_${counter}`, channel: 'web', messages: [{ role: 'user', text: 'Hello' }] },
    ...overrides,
  };
}
