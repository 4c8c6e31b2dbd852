import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

describe('standard-webhooks verification', () => {
  const oldSecret = newSecret();
  const newSecretValue = newSecret();
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      sources: { site: { verify: { scheme: 'standard-webhooks', secrets: [newSecretValue, oldSecret] } } },
      routes: [{ on: 'lead.qualified', to: ['crm'] }],
    });
  });
  afterAll(() => service.close());

  function send(body: string, headers: Record<string, string>) {
    return service.post('site', body, headers);
  }

  it('accepts signatures made by the official standardwebhooks package', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    expect((await send(body, officialHeaders(newSecretValue, String(event.id), body))).status).toBe(202);
  });

  it('accepts either secret while a key is being rotated', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    expect((await send(body, officialHeaders(oldSecret, String(event.id), body))).status).toBe(202);
  });

  it('accepts when any one of several listed signatures matches', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    const good = officialHeaders(newSecretValue, String(event.id), body);
    const bogus = officialHeaders(newSecret(), String(event.id), body)['webhook-signature'];
    const headers = { ...good, 'webhook-signature': `${bogus} v2,abc ${good['webhook-signature']}` };
    expect((await send(body, headers)).status).toBe(202);
  });

  it('verifies a body with multi-byte UTF-8 over its exact bytes', async () => {
    const event = leadEvent({
      contact: { email: 'zoë@例え.jp', name: 'Zoë Ñúñez 🚀', company: 'Ünïcødé ГмбХ' },
    });
    const body = JSON.stringify(event);
    const response = await send(body, officialHeaders(newSecretValue, String(event.id), body));
    expect(response.status).toBe(202);
    const row = await service.store.db
      .selectFrom('events')
      .select('payload')
      .where('id', '=', String(response.json.id))
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.payload).contact.name).toBe('Zoë Ñúñez 🚀');
  });

  it.each([
    ['a stale timestamp (6 minutes old)', -6 * 60_000],
    ['a future timestamp (6 minutes ahead)', 6 * 60_000],
  ])('refuses %s with 401', async (_label, offset) => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    const response = await send(
      body,
      officialHeaders(newSecretValue, String(event.id), body, new Date(Date.now() + offset)),
    );
    expect(response.status).toBe(401);
    // Answered like any unsigned request; the log names the tolerance.
    expect(response.json.error).toBe('invalid_signature');
  });

  it('accepts timestamps just inside the tolerance in both directions', async () => {
    for (const offset of [-4 * 60_000, 4 * 60_000]) {
      const event = leadEvent();
      const body = JSON.stringify(event);
      const response = await send(
        body,
        officialHeaders(newSecretValue, String(event.id), body, new Date(Date.now() + offset)),
      );
      expect(response.status).toBe(202);
    }
  });

  it('refuses a tampered body with 401 and stores nothing', async () => {
    const before = await service.count('events');
    const event = leadEvent();
    const body = JSON.stringify(event);
    const headers = officialHeaders(newSecretValue, String(event.id), body);
    const tampered = body.replace('Dana', 'Dina');
    expect((await send(tampered, headers)).status).toBe(401);
    expect(await service.count('events')).toBe(before);
  });

  it('refuses a signature made with a wrong secret, or for another message id', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    expect((await send(body, officialHeaders(newSecret(), String(event.id), body))).status).toBe(401);
    const otherId = officialHeaders(newSecretValue, 'msg_other', body);
    expect((await send(body, { ...otherId, 'webhook-id': String(event.id) })).status).toBe(401);
  });

  it('refuses malformed signature headers without failing', async () => {
    const event = leadEvent();
    const body = JSON.stringify(event);
    const headers = officialHeaders(newSecretValue, String(event.id), body);
    for (const signature of ['', 'v1,', 'v1,%%%not-base64', 'garbage', 'v1']) {
      const response = await send(body, { ...headers, 'webhook-signature': signature });
      expect(response.status).toBe(401);
    }
    expect((await send(body, { ...headers, 'webhook-timestamp': 'yesterday' })).status).toBe(401);
    // A valid signature followed by characters base64 does not know: Node's decoder would stop there.
    expect(
      (await send(body, { ...headers, 'webhook-signature': `${headers['webhook-signature']}@@` })).status,
    ).toBe(401);
  });
});

describe('hmac, token and none schemes', () => {
  const key = 'shared-hmac-key';
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService(
      {
        sources: {
          github_style: {
            verify: { scheme: 'hmac', secrets: [key], header: 'X-Hub-Signature-256', prefix: 'sha256=' },
          },
          timestamped: {
            verify: {
              scheme: 'hmac',
              secrets: [key],
              header: 'X-Signature',
              encoding: 'base64',
              algorithm: 'sha1',
              signed_content: '{timestamp}.{body}',
              timestamp_header: 'X-Timestamp',
            },
          },
          tokened: { verify: { scheme: 'token', header: 'X-Token', secrets: ['${BOT_TOKEN}'] } },
          open: { verify: { scheme: 'none' }, insecure: true },
        },
      },
      { env: { BOT_TOKEN: 'tok_123' } },
    );
  });
  afterAll(() => service.close());

  it('hmac: accepts a prefixed hex SHA-256 of the body and refuses a wrong one', async () => {
    const body = JSON.stringify(leadEvent());
    const good = `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
    expect((await service.post('github_style', body, { 'X-Hub-Signature-256': good })).status).toBe(202);
    const body2 = JSON.stringify(leadEvent());
    const unprefixed = createHmac('sha256', key).update(body2).digest('hex');
    expect((await service.post('github_style', body2, { 'X-Hub-Signature-256': unprefixed })).status).toBe(
      401,
    );
    expect(
      (await service.post('github_style', body2, { 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` }))
        .status,
    ).toBe(401);
  });

  it('hmac: signs `{timestamp}.{body}` in base64 SHA-1 and checks the timestamp', async () => {
    const body = JSON.stringify(leadEvent());
    const now = Math.floor(Date.now() / 1000);
    const sign = (ts: number) => createHmac('sha1', key).update(`${ts}.${body}`).digest('base64');
    expect(
      (await service.post('timestamped', body, { 'X-Signature': sign(now), 'X-Timestamp': String(now) }))
        .status,
    ).toBe(202);
    const old = now - 3600;
    const stale = await service.post('timestamped', body, {
      'X-Signature': sign(old),
      'X-Timestamp': String(old),
    });
    expect(stale.status).toBe(401);
  });

  it('hmac and standard-webhooks: a valid signature with anything after it is refused', async () => {
    const body = JSON.stringify(leadEvent());
    const hex = createHmac('sha256', key).update(body).digest('hex');
    for (const tail of ['zz', '!', ' x', 'g']) {
      const response = await service.post('github_style', body, {
        'X-Hub-Signature-256': `sha256=${hex}${tail}`,
      });
      expect(response.status).toBe(401);
    }
    const now = Math.floor(Date.now() / 1000);
    const base64 = createHmac('sha1', key).update(`${now}.${body}`).digest('base64');
    for (const tail of ['@@', '!!!!', '.x']) {
      const response = await service.post('timestamped', body, {
        'X-Signature': `${base64}${tail}`,
        'X-Timestamp': String(now),
      });
      expect(response.status).toBe(401);
    }
    // The untouched signatures still pass.
    expect(
      (await service.post('github_style', body, { 'X-Hub-Signature-256': `sha256=${hex}` })).status,
    ).toBe(202);
  });

  it('token: compares the shared token from the environment', async () => {
    expect(
      (await service.post('tokened', JSON.stringify(leadEvent()), { 'X-Token': 'tok_123' })).status,
    ).toBe(202);
    expect(
      (await service.post('tokened', JSON.stringify(leadEvent()), { 'X-Token': 'tok_124' })).status,
    ).toBe(401);
    expect((await service.post('tokened', JSON.stringify(leadEvent()))).status).toBe(401);
  });

  it('none: accepts unsigned requests on a source marked insecure', async () => {
    expect((await service.post('open', JSON.stringify(leadEvent()))).status).toBe(202);
  });
});
