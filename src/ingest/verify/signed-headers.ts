/**
 * The request headers a scheme's signature covers: only these may go into an
 * idempotency key, or a replay with a new value would pass as a new event.
 */
export function signedHeaders(verify: {
  scheme: string;
  signed_content?: string;
  timestamp_header?: string | undefined;
}): string[] {
  if (verify.scheme === 'standard-webhooks') return ['webhook-id', 'webhook-timestamp'];
  if (verify.scheme === 'hmac' && verify.timestamp_header && verify.signed_content?.includes('{timestamp}'))
    return [verify.timestamp_header.toLowerCase()];
  return [];
}
