import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifySchema } from '../src/config/main-schema.ts';
import { SOURCE_PRESETS } from '../src/ingest/presets/index.ts';
import { signRequest, verifyRequest } from '../src/ingest/verify/verify-request.ts';

/**
 * Each preset's signature scheme, checked at the verifier with the exact
 * bytes of the vendor-shaped fixtures: a signature made by hand the way the
 * vendor documents it passes, anything else fails (test/fixtures/sources/README.md).
 */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'sources');
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.json`));

const SECRET = 'vendor-secret';
const NOW_MS = Date.UTC(2025, 10, 25, 10, 0, 0);
const NOW_S = Math.floor(NOW_MS / 1000);

const hmac = (algorithm: string, secret: string, ...parts: Array<string | Buffer>) => {
  const mac = createHmac(algorithm, secret);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
};

/** The preset's verify block as the config loader would build it for `verify: { secrets }`. */
function presetVerify(name: keyof typeof SOURCE_PRESETS, secrets: string[] = [SECRET]) {
  return verifySchema.parse({ ...SOURCE_PRESETS[name].verify, secrets });
}

function check(
  name: keyof typeof SOURCE_PRESETS,
  body: Buffer,
  headers: Record<string, string>,
  options: { secrets?: string[]; nowMs?: number } = {},
) {
  const lower = new Map(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
  return verifyRequest(
    presetVerify(name, options.secrets),
    (header) => lower.get(header),
    body,
    options.nowMs ?? NOW_MS,
  );
}

const tamper = (body: Buffer) => Buffer.concat([body.subarray(0, body.length - 2), Buffer.from(' }')]);

describe('Chatwoot: X-Chatwoot-Signature = sha256= hex HMAC-SHA256 of {X-Chatwoot-Timestamp}.{body}', () => {
  const body = fixture('chatwoot-conversation-status-changed-open');
  const signed = (ts: number, secret = SECRET, content = body) => ({
    'X-Chatwoot-Signature': `sha256=${hmac('sha256', secret, `${ts}.`, content)}`,
    'X-Chatwoot-Timestamp': String(ts),
  });

  it('valid', () => expect(check('chatwoot', body, signed(NOW_S))).toEqual({ ok: true }));
  it('invalid: wrong secret, tampered body, stale timestamp, no prefix, unsigned', () => {
    expect(check('chatwoot', body, signed(NOW_S, 'other')).ok).toBe(false);
    expect(check('chatwoot', tamper(body), signed(NOW_S)).ok).toBe(false);
    expect(check('chatwoot', body, signed(NOW_S - 600))).toEqual({
      ok: false,
      reason: 'timestamp outside the allowed tolerance',
    });
    const bare = signed(NOW_S);
    bare['X-Chatwoot-Signature'] = bare['X-Chatwoot-Signature'].slice('sha256='.length);
    expect(check('chatwoot', body, bare).ok).toBe(false);
    expect(check('chatwoot', body, {}).ok).toBe(false);
  });
});

describe('Intercom: X-Hub-Signature = sha1= hex HMAC-SHA1 of the body with the client secret', () => {
  const body = fixture('intercom-conversation-admin-assigned');

  it('valid', () => {
    expect(check('intercom', body, { 'X-Hub-Signature': `sha1=${hmac('sha1', SECRET, body)}` })).toEqual({
      ok: true,
    });
  });
  it('invalid: wrong secret, tampered body, a sha256 digest', () => {
    expect(check('intercom', body, { 'X-Hub-Signature': `sha1=${hmac('sha1', 'other', body)}` }).ok).toBe(
      false,
    );
    expect(
      check('intercom', tamper(body), { 'X-Hub-Signature': `sha1=${hmac('sha1', SECRET, body)}` }).ok,
    ).toBe(false);
    expect(check('intercom', body, { 'X-Hub-Signature': `sha1=${hmac('sha256', SECRET, body)}` }).ok).toBe(
      false,
    );
  });
});

describe('Tidio: x-tidio-signature: t=…,s=…[,s=…], each s the hex HMAC-SHA256 of {body}_{t}', () => {
  const body = fixture('tidio-contact-created');
  const sig = (secret: string, ts: number | string, content: Buffer = body) =>
    hmac('sha256', secret, content, `_${ts}`);

  it('valid, also with one s per secret Tidio holds (either may be ours) and spaces after commas', () => {
    expect(check('tidio', body, { 'x-tidio-signature': `t=${NOW_S},s=${sig(SECRET, NOW_S)}` })).toEqual({
      ok: true,
    });
    const two = `t=${NOW_S}, s=${sig('old-secret', NOW_S)}, s=${sig(SECRET, NOW_S)}`;
    expect(check('tidio', body, { 'x-tidio-signature': two })).toEqual({ ok: true });
    // Key rotation on our side: any configured secret may match.
    expect(
      check(
        'tidio',
        body,
        { 'x-tidio-signature': `t=${NOW_S},s=${sig('next', NOW_S)}` },
        { secrets: [SECRET, 'next'] },
      ),
    ).toEqual({ ok: true });
  });

  it('invalid: wrong secret, tampered body, another t than the one signed, stale t', () => {
    expect(check('tidio', body, { 'x-tidio-signature': `t=${NOW_S},s=${sig('other', NOW_S)}` }).ok).toBe(
      false,
    );
    expect(
      check('tidio', tamper(body), { 'x-tidio-signature': `t=${NOW_S},s=${sig(SECRET, NOW_S)}` }).ok,
    ).toBe(false);
    expect(check('tidio', body, { 'x-tidio-signature': `t=${NOW_S + 1},s=${sig(SECRET, NOW_S)}` }).ok).toBe(
      false,
    );
    const stale = NOW_S - 600;
    expect(check('tidio', body, { 'x-tidio-signature': `t=${stale},s=${sig(SECRET, stale)}` })).toEqual({
      ok: false,
      reason: 'timestamp outside the allowed tolerance',
    });
    // Not `{t}.{body}` (Stripe's layout) and not the body alone.
    expect(
      check('tidio', body, {
        'x-tidio-signature': `t=${NOW_S},s=${hmac('sha256', SECRET, `${NOW_S}.`, body)}`,
      }).ok,
    ).toBe(false);
    expect(
      check('tidio', body, { 'x-tidio-signature': `t=${NOW_S},s=${hmac('sha256', SECRET, body)}` }).ok,
    ).toBe(false);
  });

  it('invalid: a header without t or s, or no header', () => {
    const malformed = 'x-tidio-signature must look like t=TIMESTAMP,s=SIGNATURE';
    expect(check('tidio', body, { 'x-tidio-signature': `s=${sig(SECRET, NOW_S)}` })).toEqual({
      ok: false,
      reason: malformed,
    });
    expect(check('tidio', body, { 'x-tidio-signature': `t=${NOW_S}` })).toEqual({
      ok: false,
      reason: malformed,
    });
    expect(check('tidio', body, { 'x-tidio-signature': sig(SECRET, NOW_S) })).toEqual({
      ok: false,
      reason: malformed,
    });
    expect(check('tidio', body, {})).toEqual({ ok: false, reason: 'missing x-tidio-signature header' });
  });

  it('send-test signs the way Tidio does', () => {
    const headers = signRequest(presetVerify('tidio'), body.toString('utf8'), 'ignored', NOW_MS);
    expect(headers).toEqual({ 'x-tidio-signature': `t=${NOW_S},s=${sig(SECRET, NOW_S)}` });
  });
});

describe('Crisp: X-Crisp-Signature = hex HMAC-SHA256 of [{X-Crisp-Request-Timestamp};{body}]', () => {
  const body = fixture('crisp-session-set-email');
  const signed = (ts: number, secret = SECRET, content = body) => ({
    'X-Crisp-Signature': hmac('sha256', secret, `[${ts};`, content, ']'),
    'X-Crisp-Request-Timestamp': String(ts),
  });

  it('valid, with the timestamp in Unix seconds or milliseconds (Crisp does not document the unit)', () => {
    expect(check('crisp', body, signed(NOW_S))).toEqual({ ok: true });
    expect(check('crisp', body, signed(NOW_MS))).toEqual({ ok: true });
  });
  it('invalid: wrong secret, tampered body, missing brackets, stale timestamp in either unit', () => {
    expect(check('crisp', body, signed(NOW_S, 'other')).ok).toBe(false);
    expect(check('crisp', tamper(body), signed(NOW_S)).ok).toBe(false);
    expect(
      check('crisp', body, {
        'X-Crisp-Signature': hmac('sha256', SECRET, `${NOW_S};`, body),
        'X-Crisp-Request-Timestamp': String(NOW_S),
      }).ok,
    ).toBe(false);
    expect(check('crisp', body, signed(NOW_S - 600)).ok).toBe(false);
    expect(check('crisp', body, signed(NOW_MS - 600_000)).ok).toBe(false);
    expect(check('crisp', body, { 'X-Crisp-Signature': signed(NOW_S)['X-Crisp-Signature'] }).ok).toBe(false);
  });
});

describe('Drift: the verification token in the body’s token field', () => {
  const body = fixture('drift-contact-identified');

  it('valid', () => {
    expect(check('drift', body, {}, { secrets: ['drift-verification-token'] })).toEqual({ ok: true });
  });
  it('invalid: another token, no token', () => {
    expect(check('drift', body, {}, { secrets: ['another-token'] }).ok).toBe(false);
    const tokenless = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString('utf8')), token: undefined }));
    expect(check('drift', tokenless, {}, { secrets: ['drift-verification-token'] }).ok).toBe(false);
  });
});

describe('Botpress: a shared token in X-Botpress-Token', () => {
  const body = fixture('botpress-human-handoff');

  it('valid', () => expect(check('botpress', body, { 'X-Botpress-Token': SECRET })).toEqual({ ok: true }));
  it('invalid: another token, no header', () => {
    expect(check('botpress', body, { 'X-Botpress-Token': 'other' }).ok).toBe(false);
    expect(check('botpress', body, {}).ok).toBe(false);
  });
});

describe('hmac header_fields: the signature header as key=value pairs (what the Tidio preset uses)', () => {
  const body = Buffer.from('{"event":"lead"}');
  const verify = verifySchema.parse({
    scheme: 'hmac',
    header: 'X-Signature',
    header_fields: { timestamp: 't', signature: 'v1' },
    signed_content: '{timestamp}.{body}',
    secrets: [SECRET],
  });
  const lookup = (value: string) => (name: string) => (name === 'x-signature' ? value : undefined);

  it('reads the timestamp and every signature under their keys, ignoring other keys', () => {
    const good = hmac('sha256', SECRET, `${NOW_S}.`, body);
    const header = `t=${NOW_S},v0=${'0'.repeat(64)},v1=${'f'.repeat(64)},v1=${good}`;
    expect(verifyRequest(verify, lookup(header), body, NOW_MS)).toEqual({ ok: true });
    expect(verifyRequest(verify, lookup(`t=${NOW_S},v0=${good}`), body, NOW_MS).ok).toBe(false);
    expect(signRequest(verify, body.toString('utf8'), 'ignored', NOW_MS)).toEqual({
      'X-Signature': `t=${NOW_S},v1=${good}`,
    });
  });

  it('is refused together with timestamp_header', () => {
    const both = verifySchema.safeParse({
      scheme: 'hmac',
      header: 'X-Signature',
      header_fields: { timestamp: 't', signature: 'v1' },
      timestamp_header: 'X-Timestamp',
      signed_content: '{timestamp}.{body}',
      secrets: [SECRET],
    });
    expect(both.success).toBe(false);
    expect(both.error?.issues.map((issue) => issue.message)).toEqual([
      'give either `timestamp_header` or `header_fields`, not both',
    ]);
  });
});
