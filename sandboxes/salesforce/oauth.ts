import { createHmac, createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import type { Answer } from './errors.ts';
import { USER_ID } from './schema.ts';

const ORG_ID = '00D000000000001AAA';

export interface TokenAuthority {
  url: string;
  options: {
    clientId: string;
    clientSecret: string;
    refreshToken: string;
    jwtPublicKey?: string | KeyObject;
    jwtUsername?: string;
  };
  /** Shared with the REST API, which accepts every token issued here. */
  tokens: Set<string>;
  tokenRequests: { grantType: string; ok: boolean; at: number }[];
}

export function answerTokenRequest(form: Record<string, string>, auth: TokenAuthority): Answer {
  const grantType = form.grant_type ?? '';
  const refuse = (error: string, description: string): Answer => {
    auth.tokenRequests.push({ grantType, ok: false, at: Date.now() });
    return { status: 400, body: { error, error_description: description } };
  };
  const options = auth.options;
  if (grantType === 'client_credentials' || grantType === 'refresh_token') {
    if (form.client_id !== options.clientId) return refuse('invalid_client_id', 'client identifier invalid');
    if (
      (grantType === 'client_credentials' || form.client_secret) &&
      form.client_secret !== options.clientSecret
    )
      return refuse('invalid_client', 'invalid client credentials');
    if (grantType === 'refresh_token' && form.refresh_token !== options.refreshToken)
      return refuse('invalid_grant', 'expired access/refresh token');
  } else if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    const problem = jwtProblem(form.assertion ?? '', auth);
    if (problem) return refuse('invalid_grant', problem);
  } else {
    return refuse('unsupported_grant_type', 'grant type not supported');
  }
  auth.tokenRequests.push({ grantType, ok: true, at: Date.now() });
  const accessToken = `${ORG_ID.slice(0, 15)}!${randomBytes(24).toString('base64url')}`;
  auth.tokens.add(accessToken);
  const issuedAt = String(Date.now());
  return {
    status: 200,
    body: {
      access_token: accessToken,
      signature: createHmac('sha256', options.clientSecret).update(`${auth.url}${issuedAt}`).digest('base64'),
      scope: 'api',
      instance_url: auth.url,
      id: `${auth.url}/id/${ORG_ID}/${USER_ID}`,
      token_type: 'Bearer',
      issued_at: issuedAt,
    },
  };
}

function jwtProblem(assertion: string, auth: TokenAuthority): string | undefined {
  const [header, claims, signature] = assertion.split('.');
  if (!header || !claims || !signature) return 'invalid assertion';
  const key = auth.options.jwtPublicKey;
  if (!key) return 'invalid assertion';
  const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
  const valid = verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${claims}`),
    publicKey,
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) return 'invalid assertion';
  let body: { iss?: string; sub?: string; aud?: string; exp?: number };
  try {
    body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
  } catch {
    return 'invalid assertion';
  }
  if (body.iss !== auth.options.clientId) return 'invalid client credentials';
  if (!['https://login.salesforce.com', 'https://test.salesforce.com', auth.url].includes(body.aud ?? ''))
    return 'audience is invalid';
  if (auth.options.jwtUsername && body.sub !== auth.options.jwtUsername)
    return "user hasn't approved this consumer";
  if (typeof body.exp !== 'number' || body.exp * 1000 < Date.now()) return 'expired authorization code';
  return undefined;
}
