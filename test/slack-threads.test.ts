import { WebAPIPlatformError, WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { SlackSandbox } from '../sandboxes/slack/index.ts';
import { DeliveryWorker } from '../src/outbox/delivery-worker.ts';
import { cleanup, fixedEvent, type SlackSetup, startSlackService } from './fixtures/slack/setup.ts';
import { until } from './helpers/until.ts';

afterEach(cleanup);

/** An event of `type` in conversation `id`, from one person, so that leadrelay keeps its alerts in order. */
function inConversation(
  type: string,
  id: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = fixedEvent(type);
  return {
    ...base,
    contact: { email: `${id}@visitor.example`, name: `Visitor ${id}` },
    conversation: { ...(base.conversation as object), id, url: `https://chat.example/c/${id}` },
    ...extra,
  };
}

async function delivered(setup: SlackSetup, id: string): Promise<void> {
  await until(async () => (await setup.delivery(id)).status === 'delivered', `${id} delivered`);
}

/** What the identity map says of a conversation for the `alerts` connector. */
async function threadRecord(setup: SlackSetup, conversation: string): Promise<string | undefined> {
  const row = await setup.service.store.db
    .selectFrom('identities')
    .select('record')
    .where('connector', '=', 'alerts')
    .where('identifier', '=', `conversation:site:${conversation}`)
    .executeTakeFirst();
  return row?.record;
}

function summaries(setup: SlackSetup, id: string): Promise<(string | null)[]> {
  return setup.attempts(id).then((log) => log.map((attempt) => attempt.response_summary));
}

describe('one Slack thread per conversation', () => {
  it("posts a conversation's second and third alerts as replies in its first alert's thread", async () => {
    const setup = await startSlackService();
    const { slack } = setup;
    const ids: string[] = [];
    for (const type of ['lead.qualified', 'lead.qualified', 'feedback.submitted']) {
      ids.push(await setup.post(inConversation(type, 'c-dana')));
    }
    for (const id of ids) await delivered(setup, id);
    const [root, second, third] = slack.messagesIn('#sales');
    expect(slack.messagesIn('#sales')).toHaveLength(3);
    expect(root!.threadTs).toBeUndefined();
    expect([second!.threadTs, third!.threadTs]).toEqual([root!.ts, root!.ts]);
    // Neither is a lead escalation: they stay in the thread.
    expect([second!.broadcast, third!.broadcast]).toEqual([false, false]);
    expect(await summaries(setup, ids[1]!)).toEqual(["replied in the conversation's thread in #sales"]);
    expect((await setup.delivery(ids[2]!)).result).toMatchObject({
      channel: 'C0SALES01',
      ts: third!.ts,
      thread_ts: root!.ts,
    });
    // The first alert's delivery recorded the thread; the replies did not move it.
    expect(await threadRecord(setup, 'c-dana')).toBe(`thread:C0SALES01:${root!.ts}`);
    // As Slack shows it: one message in the channel, with a thread of two.
    const client = new WebClient(slack.token, { slackApiUrl: slack.url });
    const history = await client.conversations.history({ channel: 'C0SALES01' });
    expect(history.messages).toHaveLength(1);
    expect(history.messages![0]).toMatchObject({ ts: root!.ts, reply_count: 2, latest_reply: third!.ts });
    const thread = await client.conversations.replies({ channel: 'C0SALES01', ts: root!.ts });
    expect(thread.messages!.map((m) => m.ts)).toEqual([root!.ts, second!.ts, third!.ts]);
  });

  it('also sends an escalation reply to the channel', async () => {
    const setup = await startSlackService();
    const { slack } = setup;
    const lead = await setup.post(inConversation('lead.qualified', 'c-sam'));
    const escalation = await setup.post(inConversation('conversation.escalated', 'c-sam'));
    await delivered(setup, lead);
    await delivered(setup, escalation);
    const [root, reply] = slack.messagesIn('#sales');
    expect(reply).toMatchObject({ threadTs: root!.ts, broadcast: true });
    expect(await summaries(setup, escalation)).toEqual([
      "replied in the conversation's thread in #sales, also sent to the channel",
    ]);
    expect((await setup.delivery(escalation)).result).toMatchObject({ thread_ts: root!.ts, broadcast: true });
    const client = new WebClient(slack.token, { slackApiUrl: slack.url });
    const history = await client.conversations.history({ channel: 'C0SALES01' });
    expect(history.messages!.map((m) => [m.ts, m.subtype])).toEqual([
      [reply!.ts, 'thread_broadcast'],
      [root!.ts, 'bot_message'],
    ]);
  });

  it('keeps two conversations in two threads', async () => {
    const setup = await startSlackService();
    const { slack } = setup;
    const ids: Record<string, string> = {};
    for (const [key, type, conversation] of [
      ['a1', 'lead.qualified', 'c-ana'],
      ['b1', 'lead.qualified', 'c-ben'],
      ['a2', 'feedback.submitted', 'c-ana'],
      ['b2', 'feedback.submitted', 'c-ben'],
    ] as const)
      ids[key] = await setup.post(inConversation(type, conversation));
    for (const id of Object.values(ids)) await delivered(setup, id);
    const at = async (key: string) =>
      (await setup.delivery(ids[key]!)).result as { ts: string; thread_ts?: string };
    const [a1, b1, a2, b2] = [await at('a1'), await at('b1'), await at('a2'), await at('b2')];
    expect(a1.ts).not.toBe(b1.ts);
    expect(a2.thread_ts).toBe(a1.ts);
    expect(b2.thread_ts).toBe(b1.ts);
    expect(slack.repliesTo('#sales', a1.ts).map((m) => m.ts)).toEqual([a2.ts]);
    expect(slack.repliesTo('#sales', b1.ts).map((m) => m.ts)).toEqual([b2.ts]);
    expect(await threadRecord(setup, 'c-ana')).toBe(`thread:C0SALES01:${a1.ts}`);
    expect(await threadRecord(setup, 'c-ben')).toBe(`thread:C0SALES01:${b1.ts}`);
  });

  it('replies in a thread started earlier in the same batch, and records it from both deliveries', async () => {
    // leadrelay queues one conversation's deliveries one after another (ordered per person), so
    // this is a batch its caller hands over directly: the connector must not rely on that order.
    const setup = await startSlackService({ worker: false });
    const connector = setup.service.config.current.connectors.get('alerts')!;
    const context = (eventId: string) => ({
      event: inConversation('lead.qualified', 'c-shared'),
      eventId,
      deliveryId: 1,
      source: 'site',
      receivedAt: Date.now(),
      attempt: 1,
      related: {},
      identifiers: ['conversation:site:c-shared', 'email:c-shared@visitor.example'],
      known: {},
    });
    expect(connector.remembers).toBe(true);
    const outcomes = await connector.deliverBatch!([context('ev_first'), context('ev_second')]);
    const [root, reply] = setup.slack.messagesIn('#sales');
    expect(reply!.threadTs).toBe(root!.ts);
    const identity = { record: `thread:C0SALES01:${root!.ts}`, identifiers: ['conversation:site:c-shared'] };
    expect(outcomes).toEqual([
      expect.objectContaining({ identity }),
      expect.objectContaining({ summary: "replied in the conversation's thread in #sales" }),
    ]);
    expect(outcomes[1]).not.toHaveProperty('identity');
  });

  it("starts the conversation's own thread in another channel, keeping the first channel's", async () => {
    const setup = await startSlackService({
      slack: { channel: "{{ metadata.slack_channel | default: '#sales' }}" },
    });
    const { slack } = setup;
    const toSupport = { metadata: { slack_channel: 'support' } };
    const ids: string[] = [];
    for (const [type, extra] of [
      ['lead.qualified', {}],
      ['conversation.escalated', toSupport],
      ['lead.qualified', {}],
      ['conversation.escalated', toSupport],
    ] as const)
      ids.push(await setup.post(inConversation(type, 'c-kim', extra)));
    for (const id of ids) await delivered(setup, id);
    const [salesRoot, salesReply] = slack.messagesIn('#sales');
    const [supportRoot, supportReply] = slack.messagesIn('#support');
    expect(salesRoot!.threadTs).toBeUndefined();
    expect(supportRoot!.threadTs).toBeUndefined();
    expect(salesReply!.threadTs).toBe(salesRoot!.ts);
    expect(supportReply).toMatchObject({ threadTs: supportRoot!.ts, broadcast: true });
    expect(await threadRecord(setup, 'c-kim')).toBe(
      `thread:C0SALES01:${salesRoot!.ts} thread:C0SUPPORT1:${supportRoot!.ts}`,
    );
  });

  it.each([
    ['its answer came too late', { lateAnswerMs: 1500 }],
    ['the connection dropped after Slack took it', { afterEffect: true }],
  ] as const)(
    'finds a retried reply in the thread when %s, instead of posting it twice',
    async (_label, fault) => {
      const setup = await startSlackService({
        slack: { timeout: '300ms' },
        delivery: { retry_schedule: ['0s', '0s', '0s'] },
      });
      const { slack } = setup;
      const first = await setup.post(inConversation('lead.qualified', 'c-lost'));
      await delivered(setup, first);
      // Slack takes the reply (performed), but its answer is lost.
      slack.failNext(1, fault);
      const second = await setup.post(inConversation('feedback.submitted', 'c-lost'));
      await delivered(setup, second);
      const log = await setup.attempts(second);
      expect(log.map((attempt) => attempt.outcome)).toEqual(['retry', 'delivered']);
      expect(log[1]!.response_summary).toBe(
        "already posted in the conversation's thread in #sales (found by its event id on retry)",
      );
      const [root, reply] = slack.messagesIn('#sales');
      expect(slack.messagesIn('#sales')).toHaveLength(2);
      expect((await setup.delivery(second)).result).toMatchObject({ ts: reply!.ts, thread_ts: root!.ts });
      expect(slack.calls.map((call) => call.method)).toContain('conversations.replies');
      expect(await threadRecord(setup, 'c-lost')).toBe(`thread:C0SALES01:${root!.ts}`);
    },
  );

  it("records the thread of a first alert found on retry, so the conversation's next alert replies in it", async () => {
    const setup = await startSlackService({
      slack: { timeout: '300ms' },
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    const { slack } = setup;
    slack.failNext(1, { lateAnswerMs: 1500 });
    const first = await setup.post(inConversation('lead.qualified', 'c-found'));
    await delivered(setup, first);
    const log = await setup.attempts(first);
    expect(log.map((attempt) => attempt.outcome)).toEqual(['retry', 'delivered']);
    expect(log[1]!.response_summary).toBe('already posted to #sales (found by its event id on retry)');
    const [root] = slack.messagesIn('#sales');
    expect(await threadRecord(setup, 'c-found')).toBe(`thread:C0SALES01:${root!.ts}`);
    const second = await setup.post(inConversation('feedback.submitted', 'c-found'));
    await delivered(setup, second);
    expect(slack.messagesIn('#sales').map((m) => m.threadTs)).toEqual([undefined, root!.ts]);
  });

  it.each([
    ['deleted in Slack (the reply lands in the channel)', 'delete'],
    ['answered thread_not_found', 'error'],
  ] as const)('starts a new thread when the first one is gone: %s', async (_label, how) => {
    const setup = await startSlackService();
    const { slack } = setup;
    const first = await setup.post(inConversation('lead.qualified', 'c-gone'));
    await delivered(setup, first);
    const [oldRoot] = slack.messagesIn('#sales');
    if (how === 'delete') {
      const client = new WebClient(slack.token, { slackApiUrl: slack.url });
      await client.chat.delete({ channel: 'C0SALES01', ts: oldRoot!.ts });
    } else slack.failNext(1, { error: 'thread_not_found' });
    const second = await setup.post(inConversation('lead.qualified', 'c-gone'));
    await delivered(setup, second);
    const newRoot = slack.messagesIn('#sales').at(-1)!;
    expect(newRoot.threadTs).toBeUndefined();
    expect(await summaries(setup, second)).toEqual([
      "posted to #sales as a new thread (the conversation's thread there was deleted)",
    ]);
    expect(await threadRecord(setup, 'c-gone')).toBe(`thread:C0SALES01:${newRoot.ts}`);
    // The conversation's next alert replies in the new thread.
    const third = await setup.post(inConversation('feedback.submitted', 'c-gone'));
    await delivered(setup, third);
    expect(slack.messagesIn('#sales').at(-1)!.threadTs).toBe(newRoot.ts);
    expect(slack.messagesIn('#sales').filter((m) => !m.threadTs)).toHaveLength(2);
  });

  it('never folds a reply into a digest; a burst of new conversations is one digest', async () => {
    const setup = await startSlackService({ worker: false, slack: { digest_after: 3 } });
    const { slack, service } = setup;
    // A first worker posts the conversation's first alert, then stops, so the rest are due at once.
    const worker = new DeliveryWorker({
      store: service.store,
      config: service.config,
      logger: service.logger,
      pollIntervalMs: 50,
    });
    worker.start();
    const first = await setup.post(inConversation('lead.qualified', 'c-known'));
    await delivered(setup, first);
    await worker.stop();
    const followUp = await setup.post(inConversation('conversation.escalated', 'c-known'));
    const fresh: string[] = [];
    for (let i = 0; i < 4; i++) fresh.push(await setup.post(inConversation('lead.qualified', `c-new${i}`)));
    setup.startWorker();
    for (const id of [followUp, ...fresh]) await delivered(setup, id);
    const [root, ...rest] = slack.messagesIn('#sales');
    expect(rest).toHaveLength(2);
    const reply = rest.find((m) => m.threadTs)!;
    const digest = rest.find((m) => !m.threadTs)!;
    expect(reply).toMatchObject({ threadTs: root!.ts, broadcast: true });
    expect(reply.metadata!.event_payload).toEqual({ event_ids: followUp });
    expect(digest.metadata!.event_payload).toEqual({ event_ids: fresh.join(','), digest: true });
    // A digest lists several conversations: it starts none of their threads.
    for (let i = 0; i < 4; i++) expect(await threadRecord(setup, `c-new${i}`)).toBeUndefined();
  });

  it('thread_per_conversation: false posts every alert on its own and remembers nothing', async () => {
    const setup = await startSlackService({ slack: { thread_per_conversation: false } });
    const first = await setup.post(inConversation('lead.qualified', 'c-flat'));
    const second = await setup.post(inConversation('conversation.escalated', 'c-flat'));
    await delivered(setup, first);
    await delivered(setup, second);
    expect(setup.slack.messagesIn('#sales').map((m) => m.threadTs)).toEqual([undefined, undefined]);
    expect(await threadRecord(setup, 'c-flat')).toBeUndefined();
  });
});

describe("the Slack sandbox's threads, as Slack documents them", () => {
  async function start(): Promise<{ slack: SlackSandbox; client: WebClient }> {
    const slack = await SlackSandbox.start({ channelIntervalMs: 0 });
    const client = new WebClient(slack.token, { slackApiUrl: slack.url, retryConfig: { retries: 0 } });
    return { slack, client };
  }

  it('answers a reply with its thread_ts; the parent counts its replies; replies are read with conversations.replies', async () => {
    const { slack, client } = await start();
    try {
      const parent = await client.chat.postMessage({ channel: '#sales', text: 'parent' });
      const reply = await client.chat.postMessage({
        channel: '#sales',
        text: 'reply',
        thread_ts: parent.ts!,
      });
      expect(reply.message).toMatchObject({ ts: reply.ts, thread_ts: parent.ts });
      const history = await client.conversations.history({ channel: 'C0SALES01' });
      expect(history.messages).toEqual([
        expect.objectContaining({
          ts: parent.ts,
          thread_ts: parent.ts,
          reply_count: 1,
          reply_users_count: 1,
          latest_reply: reply.ts,
        }),
      ]);
      const thread = await client.conversations.replies({ channel: 'C0SALES01', ts: parent.ts! });
      expect(thread.messages!.map((m) => [m.text, m.thread_ts])).toEqual([
        ['parent', parent.ts],
        ['reply', parent.ts],
      ]);
      const missing = await client.conversations
        .replies({ channel: 'C0SALES01', ts: '1.000001' })
        .catch((e) => e);
      expect(missing).toBeInstanceOf(WebAPIPlatformError);
      expect((missing as WebAPIPlatformError).data.error).toBe('thread_not_found');
    } finally {
      await slack.close();
    }
  });

  it('posts a reply to a deleted parent at the top level; a parent deleted with replies stays as a tombstone', async () => {
    const { slack, client } = await start();
    try {
      const lonely = await client.chat.postMessage({ channel: '#sales', text: 'lonely' });
      await client.chat.delete({ channel: 'C0SALES01', ts: lonely.ts! });
      const orphan = await client.chat.postMessage({
        channel: '#sales',
        text: 'orphan',
        thread_ts: lonely.ts!,
      });
      expect(orphan.message).not.toHaveProperty('thread_ts');
      const gone = await client.chat.delete({ channel: 'C0SALES01', ts: lonely.ts! }).catch((e) => e);
      expect((gone as WebAPIPlatformError).data.error).toBe('message_not_found');

      const parent = await client.chat.postMessage({ channel: '#sales', text: 'parent' });
      await client.chat.postMessage({ channel: '#sales', text: 'first reply', thread_ts: parent.ts! });
      await client.chat.delete({ channel: 'C0SALES01', ts: parent.ts! });
      const later = await client.chat.postMessage({
        channel: '#sales',
        text: 'later',
        thread_ts: parent.ts!,
      });
      expect(later.message).toMatchObject({ thread_ts: parent.ts });
      const history = await client.conversations.history({ channel: 'C0SALES01' });
      expect(history.messages!.map((m) => [m.text, m.subtype])).toEqual([
        ['This message was deleted.', 'tombstone'],
        ['orphan', 'bot_message'],
      ]);
    } finally {
      await slack.close();
    }
  });
});
