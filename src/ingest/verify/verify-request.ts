import type { VerifyConfig } from '../../config/main-schema.ts';
import { standardWebhookHeaders } from '../../util/standard-webhooks-signature.ts';
import { constantTimeEqual } from './constant-time.ts';
import { hmacDigest, verifyHmac } from './hmac.ts';
import { verifyStandardWebhooks } from './standard-webhooks.ts';
import { type HeaderLookup, rejected, VERIFIED, type Verdict } from './verdict.ts';

/** Checks a request's signature by the source's scheme, over the exact bytes received. */
export function verifyRequest(
  config: VerifyConfig,
  headers: HeaderLookup,
  body: Buffer,
  nowMs: number,
): Verdict {
  switch (config.scheme) {
    case 'standard-webhooks':
      return verifyStandardWebhooks(
        { secrets: config.secrets, toleranceMs: config.tolerance },
        headers,
        body,
        nowMs,
      );
    case 'hmac':
      return verifyHmac(
        {
          secrets: config.secrets,
          header: config.header,
          prefix: config.prefix,
          encoding: config.encoding,
          algorithm: config.algorithm,
          signedContent: config.signed_content,
          timestampHeader: config.timestamp_header,
          headerFields: config.header_fields,
          toleranceMs: config.tolerance,
        },
        headers,
        body,
        nowMs,
      );
    case 'token': {
      const offered = headers(config.header.toLowerCase());
      if (!offered) return rejected(`missing ${config.header} header`);
      let matched = false;
      for (const token of config.secrets) matched = constantTimeEqual(token, offered) || matched;
      return matched ? VERIFIED : rejected('token does not match');
    }
    case 'body_token':
      return verifyBodyToken(config.field, config.secrets, body);
    case 'none':
      return VERIFIED;
  }
}

/** A token inside the JSON body (Drift): the body is parsed only to read it; nothing else is trusted yet. */
function verifyBodyToken(field: string, secrets: readonly string[], body: Buffer): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return rejected(`missing ${field} in the body`);
  }
  for (const key of field.split('.')) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  if (typeof value !== 'string' || value === '') return rejected(`missing ${field} in the body`);
  let matched = false;
  for (const token of secrets) matched = constantTimeEqual(token, value) || matched;
  return matched ? VERIFIED : rejected('token does not match');
}

/** The headers a sender would add to sign `body` for this source: the other side of {@link verifyRequest}. */
export function signRequest(
  config: VerifyConfig,
  body: string,
  id: string,
  nowMs = Date.now(),
): Record<string, string> {
  const seconds = Math.floor(nowMs / 1000);
  switch (config.scheme) {
    case 'standard-webhooks':
      return standardWebhookHeaders(config.secrets[0]!, id, body, seconds);
    case 'hmac': {
      const timestamp = config.timestamp_header || config.header_fields ? String(seconds) : '';
      const digest = hmacDigest(
        { algorithm: config.algorithm, signedContent: config.signed_content },
        config.secrets[0]!,
        timestamp,
        Buffer.from(body, 'utf8'),
      );
      const signature = config.prefix + digest.toString(config.encoding);
      if (config.header_fields) {
        const { timestamp: t, signature: s } = config.header_fields;
        return { [config.header]: `${t}=${timestamp},${s}=${signature}` };
      }
      const headers: Record<string, string> = { [config.header]: signature };
      if (config.timestamp_header) headers[config.timestamp_header] = timestamp;
      return headers;
    }
    case 'token':
      return { [config.header]: config.secrets[0]! };
    case 'body_token': // the sender puts the token in the body itself
    case 'none':
      return {};
  }
}
