import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { heldWorkspaces } from '../connectors/slack/workspace.ts';
import type { SlackSandbox } from '../sandboxes/slack/index.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { finished } from './fixtures/slack/fake-crm.ts';
import { cleanup, FAKE_CRM, fixedEvent, startSlackService } from './fixtures/slack/setup.ts';
import { untilAllDelivered } from './helpers/harness.ts';
import { until } from './helpers/until.ts';

afterEach(cleanup);

const hubspot = (options: Record<string, unknown> = {}) => ({
  type: FAKE_CRM,
  label: 'Open in HubSpot',
  record_url: 'https://app.hubspot.com/contacts/4242/record/0-1',
  ...options,
});
const salesforce = (options: Record<string, unknown> = {}) => ({
  type: FAKE_CRM,
  label: 'Open in Salesforce',
  record_url: 'https://acme.lightning.force.com/lightning/r/Lead',
  ...options,
});

function buttons(blocks: Record<string, unknown>[]): { text: string; url: string }[] {
  const actions = blocks.find((block) => block.type === 'actions') as
    | { elements: { text: { text: string }; url: string }[] }
    | undefined;
  return (actions?.elements ?? []).map((element) => ({ text: element.text.text, url: element.url }));
}

describe('buttons to the CRM record', () => {
  it('waits for the CRM deliveries and links to their records', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      routes: [{ on: '*', to: ['hubspot', 'salesforce', 'alerts'] }],
      slack: { links_from: ['hubspot', 'salesforce'], links_timeout: '10s' },
      connectors: { hubspot: hubspot({ delay_ms: 300 }), salesforce: salesforce({ delay_ms: 600 }) },
    });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'alert delivered');
    const record = id.slice(-6);
    const [message] = slack.messages;
    expect(buttons(message!.blocks)).toEqual([
      { text: 'Open in HubSpot', url: `https://app.hubspot.com/contacts/4242/record/0-1/${record}` },
      { text: 'Open in Salesforce', url: `https://acme.lightning.force.com/lightning/r/Lead/${record}` },
      { text: 'View conversation', url: 'https://chat.example/c/8842' },
    ]);
    // The alert went out only after both CRM deliveries had finished.
    const crmDone = finished.filter((f) => f.eventId === id).map((f) => f.at);
    expect(crmDone).toHaveLength(2);
    expect(message!.at).toBeGreaterThanOrEqual(Math.max(...crmDone));
    const row = await delivery(id);
    expect(row.result).toMatchObject({ buttons: ['Open in HubSpot', 'Open in Salesforce'] });
    expect((await attempts(id))[0]!.response_summary).toBe(
      'posted to #sales with Open in HubSpot, Open in Salesforce',
    );
  });

  it('sends the alert without the button when the CRM is not done in time, rather than late', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      routes: [{ on: '*', to: ['hubspot', 'alerts'] }],
      slack: { links_from: ['hubspot'], links_timeout: '1s' },
      connectors: { hubspot: hubspot({ down: true }) },
      delivery: { retry_schedule: ['0s', '1h'] },
    });
    const sent = Date.now();
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'alert delivered');
    const [message] = slack.messages;
    // It waited for HubSpot for links_timeout, not for HubSpot's retry an hour later.
    expect(message!.at - sent).toBeGreaterThanOrEqual(1000);
    expect(message!.at - sent).toBeLessThan(30_000);
    expect(buttons(message!.blocks)).toEqual([
      { text: 'View conversation', url: 'https://chat.example/c/8842' },
    ]);
    expect((await delivery(id, 'hubspot')).status).toBe('pending');
    const row = await delivery(id);
    expect(row.attempts).toBe(1);
    expect((await attempts(id)).map((a) => a.outcome)).toEqual(['delivered']);
    expect((await attempts(id))[0]!.response_summary).toBe(
      'posted to #sales without hubspot link (not delivered within 1 s)',
    );
  });

  it('does not wait for a CRM connector the event was not routed to', async () => {
    const { slack, post, delivery } = await startSlackService({
      routes: [
        { on: 'lead.qualified', to: ['hubspot', 'alerts'] },
        { on: 'feedback.submitted', to: ['alerts'] },
      ],
      slack: { links_from: ['hubspot'], links_timeout: '10s' },
      connectors: { hubspot: hubspot({ down: true }) },
    });
    const sent = Date.now();
    const id = await post(fixedEvent('feedback.submitted'));
    await until(async () => (await delivery(id)).status === 'delivered', 'alert delivered');
    // Not held for the 10 s links_timeout, however loaded the machine.
    expect(slack.messages[0]!.at - sent).toBeLessThan(5_000);
  });
});

describe('rate limits and digests', () => {
  it('30 leads in one second to one channel: every lead appears, in order, within 1 message/s, in digests', async () => {
    // All thirty are queued before the worker starts: "in one second" must not depend on how fast
    // a loaded machine posts them (posted one by one over seconds, they would be alerts one by one).
    const { slack, post, delivery, service, startWorker } = await startSlackService({
      slack: { digest_after: 5 },
      worker: false,
    });
    const ids: string[] = [];
    const emails: string[] = [];
    for (let i = 0; i < 30; i++) {
      const email = `lead${String(i).padStart(2, '0')}@burst.example`;
      emails.push(email);
      const event = fixedEvent('lead.qualified', {
        contact: { email, name: `Lead ${i}`, company: `Company ${i}` },
      });
      // Thirty leads, thirty conversations: one conversation's alerts go one after another, in its thread.
      (event.conversation as Record<string, unknown>).id = `conv_burst_${i}`;
      ids.push(await post(event));
    }
    startWorker();
    await untilAllDelivered(service);

    const messages = slack.messagesIn('#sales');
    // Never faster than Slack allows: the sandbox answered no 429, and the gaps say why.
    expect(slack.rateLimited()).toEqual([]);
    for (let i = 1; i < messages.length; i++)
      expect(messages[i]!.at - messages[i - 1]!.at).toBeGreaterThanOrEqual(1000);
    // Not a trickle of 30: at least one digest carried many of them.
    expect(messages.length).toBeLessThanOrEqual(6);
    const digests = messages.filter((message) => (message.text ?? '').startsWith('📬'));
    expect(digests.length).toBeGreaterThanOrEqual(1);
    expect(
      Math.max(...digests.map((d) => d.metadata!.event_payload!.event_ids!.toString().split(',').length)),
    ).toBeGreaterThan(5);
    // Every lead exactly once, in the order they arrived — by event id and visibly by email.
    const covered = messages.flatMap((message) =>
      String(message.metadata!.event_payload!.event_ids).split(','),
    );
    expect(covered).toEqual(ids);
    const shown = messages.flatMap(
      (message) => slack.render(message).match(/lead\d\d@burst\.example/g) ?? [],
    );
    expect(shown.filter((email, i) => email !== shown[i - 1])).toEqual(emails);
    // A digest line names the lead and company.
    expect(slack.render(digests[0]!)).toMatch(/\d+\. 🎯 Lead \d+ · lead\d\d@burst\.example · Company \d+/);
    // Each delivery points at the message that carried it.
    for (const id of ids) {
      const row = await delivery(id);
      const carrier = messages.find((m) =>
        String(m.metadata!.event_payload!.event_ids).split(',').includes(id),
      );
      expect(row.result).toMatchObject({ channel: 'C0SALES01', ts: carrier!.ts });
      if (carrier!.text!.startsWith('📬'))
        expect(row.result!.digest).toMatchObject({ ts: carrier!.ts, position: expect.any(Number) });
    }
  });

  it('paces alerts per channel, not across channels', async () => {
    const { slack, post, delivery } = await startSlackService({
      slack: {
        channel: "{{ metadata.slack_channel | default: '#sales' }}",
        digest_after: 'off',
        // Long enough that "waited for the other channel" stands out from a loaded machine's delays.
        channel_interval: '3s',
      },
    });
    const ids = [];
    for (const channel of ['sales', 'support', 'sales', 'support'])
      ids.push(await post(fixedEvent('lead.qualified', { metadata: { slack_channel: channel } })));
    for (const id of ids) await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const sales = slack.messagesIn('#sales');
    const support = slack.messagesIn('#support');
    expect(sales).toHaveLength(2);
    expect(support).toHaveLength(2);
    expect(sales[1]!.at - sales[0]!.at).toBeGreaterThanOrEqual(3000);
    expect(support[1]!.at - support[0]!.at).toBeGreaterThanOrEqual(3000);
    // The two channels did not wait for each other (that would put 3 s between their first messages).
    expect(Math.abs(support[0]!.at - sales[0]!.at)).toBeLessThan(1500);
    expect(slack.rateLimited()).toEqual([]);
  });

  it('on a 429 waits for Retry-After (one policy: the SDK does not retry by itself)', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    slack.failNext(1, { status: 429, retryAfter: 2 });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const posts = slack.calls.filter((call) => call.method === 'chat.postMessage');
    expect(posts.map((call) => call.status)).toEqual([429, 200]);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1900);
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(log[0]!.error).toBe('Slack rate limit for #sales: retry after 2 s');
  });
});

describe('errors', () => {
  it('bot not in the channel: dead at once, with the hint to invite it', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      sandbox: { channels: [{ id: 'C0SALES01', name: 'sales', member: false }] },
    });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'dead', 'dead');
    const row = await delivery(id);
    expect(row.last_error).toBe(
      'not_in_channel: the bot is not a member of #sales — invite the bot to #sales (/invite @your-bot), or add the chat:write.public scope to post without joining',
    );
    expect(row.attempts).toBe(1);
    expect((await attempts(id)).map((a) => a.outcome)).toEqual(['dead']);
    expect(slack.messages).toEqual([]);
  });

  type Case = {
    options?: Parameters<typeof startSlackService>[0];
    /** Done to the sandbox before the event is sent. */
    before?: (slack: SlackSandbox) => void;
    error: RegExp;
  };
  it.each<[string, Case]>([
    [
      'channel_not_found',
      {
        options: { slack: { channel: '#nowhere' } },
        error: /^channel_not_found: Slack has no channel #nowhere/,
      },
    ],
    [
      'invalid_auth',
      {
        options: { slack: { token: 'xoxb-wrong' } },
        error: /^invalid_auth: Slack rejected the bot token — check `token` in connectors\/alerts\.yaml/,
      },
    ],
    [
      'account_inactive',
      { before: (slack) => slack.deactivate(), error: /^account_inactive: .*reinstall the Slack app/ },
    ],
    [
      'is_archived',
      {
        options: { sandbox: { channels: [{ id: 'C0SALES01', name: 'sales', archived: true }] } },
        error: /^is_archived: #sales is archived/,
      },
    ],
  ])('%s → dead with an actionable message', async (_code, { options, before, error }) => {
    const setup = await startSlackService(options);
    before?.(setup.slack);
    const id = await setup.post(fixedEvent('lead.qualified'));
    await until(async () => (await setup.delivery(id)).status === 'dead', 'dead');
    const row = await setup.delivery(id);
    expect(row.last_error).toMatch(error);
    expect(row.attempts).toBe(1);
  });

  it.each([
    ['HTTP 503', { status: 503 }, /^HTTP 503 from Slack/],
    ['HTTP 500', { status: 500 }, /^HTTP 500 from Slack/],
    ['internal_error', { error: 'internal_error' }, /^Slack answered internal_error/],
    ['ratelimited (ok:false)', { error: 'ratelimited', retryAfter: 1 }, /^Slack answered ratelimited/],
    ['a dropped connection', { reset: true }, /^could not reach Slack/],
  ])('%s → retried, then delivered', async (_label, fault, message) => {
    const { slack, post, delivery, attempts } = await startSlackService({
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    slack.failNext(1, fault);
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(log[0]!.error).toMatch(message);
    expect(slack.messages).toHaveLength(1);
  });

  it('a retry after a lost answer finds the posted alert instead of posting it twice', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      slack: { timeout: '300ms' },
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    // Slack takes the message but its answer never arrives in time.
    slack.failNext(1, { lateAnswerMs: 1500 });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(log[0]!.error).toBe('could not reach Slack: timed out');
    expect(slack.messages).toHaveLength(1);
    expect(log[1]!.response_summary).toBe('already posted to #sales (found by its event id on retry)');
    expect((await delivery(id)).result).toMatchObject({ channel: 'C0SALES01', ts: slack.messages[0]!.ts });
    expect(slack.calls.map((call) => call.method)).toEqual(
      expect.arrayContaining(['conversations.list', 'conversations.history']),
    );
  });

  it('finds the posted alert even when a busy channel has pages of messages after it, reading no further', async () => {
    // The retry waits an hour, and is made due only once the chatter is in: on a loaded
    // machine 250 posts can take longer than any fixed wait.
    const { slack, post, delivery, attempts, service } = await startSlackService({
      sandbox: { channelIntervalMs: 0 },
      slack: { timeout: '300ms', channel_interval: '0s' },
      delivery: { retry_schedule: ['0s', '1h', '0s'] },
    });
    const other = new WebClient(slack.token, { slackApiUrl: slack.url });
    // Older chatter inside the look-up's window: a third page the retry need not read.
    for (let i = 0; i < 250; i++) await other.chat.postMessage({ channel: '#sales', text: `earlier ${i}` });
    slack.failNext(1, { lateAnswerMs: 500 });
    const id = await post(fixedEvent('lead.qualified'));
    await until(() => slack.messages.some((m) => m.metadata), 'the first alert taken');
    // Before the retry: 250 other messages in the channel, more than a page of history.
    await until(async () => (await attempts(id)).length === 1, 'the first attempt recorded');
    for (let i = 0; i < 250; i++) await other.chat.postMessage({ channel: '#sales', text: `chatter ${i}` });
    await service.store.db
      .updateTable('deliveries')
      .set({ next_attempt_at: Date.now() })
      .where('event_id', '=', id)
      .where('status', '=', 'pending')
      .execute();
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(log[1]!.response_summary).toBe('already posted to #sales (found by its event id on retry)');
    expect(slack.messages.filter((m) => m.metadata)).toHaveLength(1);
    expect(slack.calls.filter((call) => call.method === 'conversations.history')).toHaveLength(2);
  });

  it('a retry whose history look-up fails for now waits and looks again instead of posting twice', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      slack: { timeout: '300ms' },
      delivery: { retry_schedule: ['0s', '0s', '0s', '0s'] },
    });
    slack.failNext(1, { lateAnswerMs: 1500 });
    slack.failNext(1, { method: 'conversations.history', error: 'internal_error' });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const log = await attempts(id);
    expect(log.map((a) => a.outcome)).toEqual(['retry', 'retry', 'delivered']);
    expect(log[1]!.error).toMatch(/^could not check #sales for an alert an earlier attempt may have posted/);
    expect(log[2]!.response_summary).toBe('already posted to #sales (found by its event id on retry)');
    expect(slack.messages).toHaveLength(1);
  });

  it('alerts held back behind a failing one keep their own retries', async () => {
    const { slack, post, delivery, attempts, startWorker } = await startSlackService({
      worker: false,
      sandbox: { channelIntervalMs: 0 },
      slack: { digest_after: 'off', channel_interval: '0s' },
      // Two attempts each: the first alert uses both and is dead.
      delivery: { retry_schedule: ['0s', '100ms'] },
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const event = fixedEvent('lead.qualified', {
        contact: { email: `held${i}@acme.example`, name: `Held ${i}` },
      });
      // Three people in three conversations, so that all three are due in one batch.
      (event.conversation as Record<string, unknown>).id = `conv_held_${i}`;
      ids.push(await post(event));
    }
    slack.failNext(2, { error: 'internal_error' });
    startWorker();
    await until(async () => (await delivery(ids[0]!)).status === 'dead', 'the first alert dead');
    for (const id of ids.slice(1))
      await until(
        async () => (await delivery(id)).status === 'delivered',
        'the later alerts delivered',
        15_000,
      );
    // Each later alert waited behind the first without sending, then went out on its one counted attempt.
    for (const id of ids.slice(1)) {
      expect((await delivery(id)).attempts).toBe(1);
      const log = await attempts(id);
      expect(log.at(-1)!.outcome).toBe('delivered');
      expect(log.slice(0, -1).map((a) => a.error)).toEqual(
        log.slice(0, -1).map(() => expect.stringMatching(/^not sent: an earlier alert to #sales failed/)),
      );
      expect(log.length).toBeGreaterThanOrEqual(2);
    }
    expect(slack.messages).toHaveLength(2);
  });

  it('without the history scope a retry still posts (at least once)', async () => {
    const { slack, post, delivery, attempts } = await startSlackService({
      slack: { timeout: '300ms' },
      delivery: { retry_schedule: ['0s', '0s', '0s'] },
    });
    slack.failNext(1, { error: 'internal_error' });
    slack.failNext(1, { method: 'conversations.history', error: 'missing_scope' });
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    expect((await attempts(id)).map((a) => a.outcome)).toEqual(['retry', 'delivered']);
    expect(slack.messages).toHaveLength(1);
  });
});

describe('the workspace a Slack connector holds', () => {
  it('is shared by the connectors a reload builds, and forgotten once the last of them is closed', async () => {
    const before = heldWorkspaces();
    const { service, post, delivery } = await startSlackService();
    expect(heldWorkspaces()).toBe(before + 1);

    const old = service.config.current.connectors.get('alerts')!;
    service.config.replace(await loadConfig(service.configFile, { env: {} }));
    const reloaded = service.config.current.connectors.get('alerts')!;
    expect(reloaded).not.toBe(old);
    // The old connector is closed once the worker no longer uses it; the new one holds the same workspace.
    await until(async () => heldWorkspaces() === before + 1, 'still one workspace after the reload');
    const id = await post(fixedEvent('lead.qualified'));
    await until(async () => (await delivery(id)).status === 'delivered', 'alert delivered after the reload');
    expect(heldWorkspaces()).toBe(before + 1);

    await service.close();
    expect(heldWorkspaces()).toBe(before);
  });
});
