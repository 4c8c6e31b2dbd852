import {
  type WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
} from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { SlackSandbox } from '../sandboxes/slack/index.ts';

const sandboxes: SlackSandbox[] = [];
afterEach(async () => {
  for (const sandbox of sandboxes.splice(0)) await sandbox.close();
});

async function start(options: Parameters<typeof SlackSandbox.start>[0] = {}) {
  const slack = await SlackSandbox.start(options);
  sandboxes.push(slack);
  const client = new WebClient(slack.token, {
    slackApiUrl: slack.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  return { slack, client };
}

/** What the SDK threw, for assertions on Slack-style failures. */
async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );
}

describe('Slack sandbox (driven by the real @slack/web-api client)', () => {
  it('takes chat.postMessage as a form (blocks as a JSON string) and as JSON (blocks as an array)', async () => {
    const { slack, client } = await start({ channelIntervalMs: 0 });
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'hello *there*' } }];
    const sent = await client.chat.postMessage({ channel: '#sales', text: 'hello', blocks });
    expect(sent).toMatchObject({ ok: true, channel: 'C0SALES01', ts: expect.stringMatching(/^\d+\.\d{6}$/) });

    const response = await fetch(`${slack.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C0SUPPORT1', text: 'json', blocks }),
    });
    expect(await response.json()).toMatchObject({ ok: true, channel: 'C0SUPPORT1' });

    expect(slack.messages.map((m) => [m.channelName, m.encoding, m.blocks])).toEqual([
      ['sales', 'form', blocks],
      ['support', 'json', blocks],
    ]);
    expect(Number(slack.messages[1]!.ts)).toBeGreaterThan(Number(slack.messages[0]!.ts));
    // Inspectable over HTTP, and readable as text.
    const listed = (await (await fetch(`${slack.teamUrl}_sandbox/messages`)).json()) as unknown[];
    expect(listed).toHaveLength(2);
    const transcript = await (await fetch(`${slack.teamUrl}_sandbox/transcript`)).text();
    expect(transcript).toMatch(/^#sales · \d\d:\d\d:\d\d · ts \d+\.\d{6}\n {2}hello there\n\n#support/);
  });

  it("answers Slack's way: HTTP 200 with ok:false for auth and channel problems", async () => {
    const { slack, client } = await start({
      channels: [
        { id: 'C0SALES01', name: 'sales' },
        { id: 'C0OUTSIDE', name: 'outside', member: false },
        { id: 'C0OLD0001', name: 'old', archived: true },
        { id: 'G0SECRET1', name: 'secret', private: true, member: false },
      ],
    });
    const code = async (call: Promise<unknown>) => {
      const error = await failure(call);
      expect(error).toBeInstanceOf(WebAPIPlatformError);
      return (error as WebAPIPlatformError).data.error;
    };
    expect(await code(client.chat.postMessage({ channel: '#nowhere', text: 'x' }))).toBe('channel_not_found');
    expect(await code(client.chat.postMessage({ channel: '#outside', text: 'x' }))).toBe('not_in_channel');
    expect(await code(client.chat.postMessage({ channel: '#old', text: 'x' }))).toBe('is_archived');
    expect(await code(client.chat.postMessage({ channel: '#secret', text: 'x' }))).toBe('channel_not_found');
    expect(await code(client.chat.postMessage({ channel: '#sales', text: '' }))).toBe('no_text');
    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
    expect(await code(wrong.auth.test())).toBe('invalid_auth');
    const anonymous = new WebClient(undefined, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
    expect(await code(anonymous.auth.test())).toBe('not_authed');
    expect(await client.auth.test()).toMatchObject({ ok: true, url: slack.teamUrl, team_id: 'T0SANDBOX' });
    slack.deactivate();
    expect(await code(client.auth.test())).toBe('account_inactive');
    expect(slack.calls.every((call) => call.status === 200)).toBe(true);
  });

  it('refuses blocks over the Block Kit limits with invalid_blocks', async () => {
    const { client } = await start();
    const error = (await failure(
      client.chat.postMessage({
        channel: '#sales',
        text: 'x',
        blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }],
      }),
    )) as WebAPIPlatformError;
    expect(error.data).toMatchObject({
      error: 'invalid_blocks',
      errors: ['must be less than 151 characters [json-pointer:/blocks/0/text/text]'],
    });
  });

  it('allows one message per second per channel, answering 429 with Retry-After', async () => {
    const { slack, client } = await start();
    await client.chat.postMessage({ channel: '#sales', text: 'one' });
    const error = await failure(client.chat.postMessage({ channel: '#sales', text: 'two' }));
    expect(error).toBeInstanceOf(WebAPIRateLimitedError);
    expect((error as WebAPIRateLimitedError).retryAfter).toBe(1);
    // Another channel has its own budget.
    await client.chat.postMessage({ channel: '#support', text: 'three' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await client.chat.postMessage({ channel: '#sales', text: 'four' });
    expect(slack.messages.map((m) => m.text)).toEqual(['one', 'three', 'four']);
    expect(slack.rateLimited()).toHaveLength(1);
  });

  it('injects faults: ok:false errors, HTTP statuses, late answers', async () => {
    const { slack, client } = await start({ channelIntervalMs: 0 });
    slack.failNext(1, { error: 'internal_error' });
    slack.failNext(1, { status: 503 });
    slack.failNext(1, { method: 'auth.test', error: 'fatal_error' });
    expect(
      ((await failure(client.chat.postMessage({ channel: '#sales', text: 'a' }))) as WebAPIPlatformError).data
        .error,
    ).toBe('internal_error');
    expect(
      ((await failure(client.chat.postMessage({ channel: '#sales', text: 'b' }))) as WebAPIHTTPError)
        .statusCode,
    ).toBe(503);
    expect(((await failure(client.auth.test())) as WebAPIPlatformError).data.error).toBe('fatal_error');
    slack.failNext(1, { lateAnswerMs: 300 });
    const hasty = new WebClient(slack.token, {
      slackApiUrl: slack.url,
      retryConfig: { retries: 0 },
      timeout: 100,
    });
    await failure(hasty.chat.postMessage({ channel: '#sales', text: 'kept' }));
    // The message was taken although the answer came too late.
    expect(slack.messages.map((m) => m.text)).toEqual(['kept']);
  });

  it('lists channels page by page and returns history with metadata', async () => {
    const { client } = await start({ channelIntervalMs: 0 });
    const first = await client.conversations.list({ limit: 1, types: 'public_channel' });
    expect(first.channels!.map((c) => c.name)).toEqual(['sales']);
    const second = await client.conversations.list({
      limit: 1,
      types: 'public_channel',
      cursor: first.response_metadata!.next_cursor!,
    });
    expect(second.channels!.map((c) => c.name)).toEqual(['support']);
    expect(second.response_metadata!.next_cursor).toBe('');

    const metadata = { event_type: 'leadrelay_alert', event_payload: { event_ids: 'ev_1' } };
    const posted = await client.chat.postMessage({ channel: '#sales', text: 'with metadata', metadata });
    const plain = await client.conversations.history({ channel: 'C0SALES01' });
    expect(plain.messages![0]).not.toHaveProperty('metadata');
    const full = await client.conversations.history({ channel: 'C0SALES01', include_all_metadata: true });
    expect(full.messages![0]).toMatchObject({ ts: posted.ts, metadata });
  });

  it('pages history newest first with next_cursor until has_more is false', async () => {
    const { client } = await start({ channelIntervalMs: 0 });
    for (let i = 1; i <= 5; i++) await client.chat.postMessage({ channel: '#sales', text: `m${i}` });
    const pages: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await client.conversations.history({
        channel: 'C0SALES01',
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      pages.push(page.messages!.map((m) => m.text!));
      cursor = page.response_metadata?.next_cursor;
      if (!page.has_more) break;
    }
    expect(pages).toEqual([['m5', 'm4'], ['m3', 'm2'], ['m1']]);
    expect(
      await failure(client.conversations.history({ channel: 'C0SALES01', cursor: 'bogus' })),
    ).toMatchObject({ data: { error: 'invalid_cursor' } });
  });

  it('failRandomly: with rate 1 the next call fails with one of the faults, for any method; with rate 0 none', async () => {
    const { slack, client } = await start({ channelIntervalMs: 0 });
    slack.failRandomly(1, [
      { status: 429, retryAfter: 2 },
      { error: 'internal_error' },
      { error: 'ratelimited' },
    ]);
    for (let i = 0; i < 6; i++) {
      const error = await failure(client.chat.postMessage({ channel: '#sales', text: `lost ${i}` }));
      if (error instanceof WebAPIRateLimitedError) expect(error.retryAfter).toBe(2);
      else {
        expect(error).toBeInstanceOf(WebAPIPlatformError);
        const data = (error as WebAPIPlatformError).data;
        expect(['internal_error', 'ratelimited']).toContain(data.error);
        if (data.error === 'ratelimited') expect(data.response_metadata?.retryAfter).toBe(1);
      }
    }
    // Read-only methods get them too.
    await failure(client.conversations.history({ channel: 'C0SALES01' }));
    expect(slack.messages).toHaveLength(0);
    const counted = [...slack.injected.values()].reduce((sum, n) => sum + n, 0);
    expect(counted).toBe(7);
    expect(
      [...slack.injected.keys()].every((kind) =>
        ['HTTP 429', 'internal_error', 'ratelimited'].includes(kind),
      ),
    ).toBe(true);

    // A fault naming a method fits that method only.
    slack.failRandomly(1, [{ method: 'conversations.history', error: 'internal_error' }]);
    await client.chat.postMessage({ channel: '#sales', text: 'fits no fault' });
    slack.failRandomly(0, [{ error: 'internal_error' }]);
    for (let i = 0; i < 5; i++) await client.chat.postMessage({ channel: '#sales', text: `kept ${i}` });
    expect(slack.messages).toHaveLength(6);
    expect((await client.conversations.history({ channel: 'C0SALES01' })).messages).toHaveLength(6);
    expect([...slack.injected.values()].reduce((sum, n) => sum + n, 0)).toBe(7);
  });

  it('failRandomly: a message stored whose answer is lost (dropped connection), and slow answers', async () => {
    const { slack, client } = await start({ channelIntervalMs: 0 });
    slack.failRandomly(1, [{ afterEffect: true, lateAnswerMs: 50 }]);
    const error = await failure(client.chat.postMessage({ channel: '#sales', text: 'kept' }));
    expect(error).toBeInstanceOf(WebAPIRequestError);
    expect(slack.messages.map((m) => m.text)).toEqual(['kept']);
    expect(slack.calls.at(-1)).toMatchObject({ method: 'chat.postMessage', status: 0 });

    slack.failRandomly(1, [{ delayMs: 150 }]);
    const started = Date.now();
    await client.chat.postMessage({ channel: '#sales', text: 'slow' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(slack.injected).toEqual(
      new Map([
        ['performed, then connection dropped after 50 ms', 1],
        ['slow 150 ms', 1],
      ]),
    );
  });
});
