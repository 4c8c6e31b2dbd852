import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxMessage } from '../sandboxes/slack/index.ts';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { cleanup, fixedEvent, startSlackService } from './fixtures/slack/setup.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';

afterEach(cleanup);

/** Every text a person (or a notification) sees in a message, as one string. */
function texts(message: SandboxMessage): string[] {
  const out: string[] = [message.text ?? ''];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const { text, ...rest } = value as Record<string, unknown>;
      if (typeof text === 'string') out.push(text);
      else walk(text);
      Object.values(rest).forEach(walk);
    }
  };
  walk(message.blocks);
  return out;
}

describe('Slack alert messages', () => {
  it.each(['lead.qualified', 'conversation.escalated', 'feedback.submitted'])(
    'posts the default %s alert with the expected blocks (golden files)',
    async (type) => {
      const { slack, post, delivery, service } = await startSlackService();
      const id = await post(fixedEvent(type));
      await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
      const [message] = slack.messagesIn('#sales');
      expect(slack.messages).toHaveLength(1);
      // What Slack got, exactly: the SDK's form body with blocks as a JSON string.
      expect(message!.encoding).toBe('form');
      await expect(
        `${JSON.stringify({ channel: message!.channelName, text: message!.text, blocks: message!.blocks }, null, 2)}\n`,
      ).toMatchFileSnapshot(`golden/slack/${type}.json`);
      await expect(`${slack.render(message!, { heading: false })}\n`).toMatchFileSnapshot(
        `golden/slack/${type}.txt`,
      );
      // The event id rides along as message metadata (for the check before a re-post).
      expect(message!.metadata).toEqual({ event_type: 'leadrelay_alert', event_payload: { event_ids: id } });
      // The delivery keeps where the message is, and a permalink to it.
      const row = await delivery(id);
      expect(row.result).toEqual({
        channel: 'C0SALES01',
        ts: message!.ts,
        links: [
          {
            label: 'Open in Slack',
            url: `${slack.teamUrl}archives/C0SALES01/p${message!.ts.replace('.', '')}`,
          },
        ],
      });
      // `leadrelay preview` shows exactly this request, built by the same code; the token masked.
      const connector = service.config.current.connectors.get('alerts')!;
      const [planned] = connector.preview({
        event: fixedEvent(type, { id: 'whatever' }),
        eventId: id,
        deliveryId: 1,
        source: 'site',
        receivedAt: Date.now(),
        attempt: 1,
        related: {},
      });
      expect(planned).toMatchObject({
        method: 'POST',
        url: `${slack.url}chat.postMessage`,
        headers: { authorization: 'Bearer xoxb-…' },
        body: {
          channel: '#sales',
          text: message!.text,
          blocks: message!.blocks,
          metadata: message!.metadata,
        },
      });
      const page = await fetch((row.result!.links as { url: string }[])[0]!.url);
      expect(await page.text()).toContain(slack.render(message!, { heading: false }).split('\n')[0]);
    },
  );

  it('lists a burst for one channel in one digest message (golden files)', async () => {
    const { slack, post, delivery, startWorker } = await startSlackService({
      worker: false,
      routes: [{ on: '*', to: ['alerts'] }],
    });
    const ids = [];
    for (const [i, name] of ['Ana Silva', 'Ben Okafor', 'Chloé Martin'].entries()) {
      const event = fixedEvent('lead.qualified', {
        contact: {
          email: `${name.split(' ')[0]!.toLowerCase()}@example.com`,
          name,
          company: `Firm ${i} & Co`,
        },
        lead: { score: 70 + i },
      });
      // Each lead its own conversation: one conversation's alerts go one after another, in its thread.
      (event.conversation as Record<string, unknown>).id = `conv_firm_${i}`;
      ids.push(await post(event));
    }
    ids.push(await post(fixedEvent('conversation.escalated')));
    ids.push(await post(fixedEvent('feedback.submitted')));
    ids.push(
      await post(fixedEvent('lead.qualified', { contact: { phone: '+44 20 7946 0958' }, conversation: {} })),
    );
    startWorker();
    for (const id of ids) await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    expect(slack.messages).toHaveLength(1);
    const [digest] = slack.messages;
    expect(digest!.metadata!.event_payload!.event_ids).toBe(ids.join(','));
    await expect(
      `${JSON.stringify({ channel: digest!.channelName, text: digest!.text, blocks: digest!.blocks }, null, 2)}\n`,
    ).toMatchFileSnapshot('golden/slack/digest.json');
    await expect(`${slack.render(digest!, { heading: false })}\n`).toMatchFileSnapshot(
      'golden/slack/digest.txt',
    );
    for (const [i, id] of ids.entries())
      expect((await delivery(id)).result).toMatchObject({
        channel: 'C0SALES01',
        ts: digest!.ts,
        digest: { ts: digest!.ts, size: 6, position: i + 1 },
      });
  });

  it('shows the escalation priority in the header, the fields and the notification text', async () => {
    const { slack, post, delivery } = await startSlackService();
    const high = await post(fixedEvent('conversation.escalated'));
    await until(async () => (await delivery(high)).status === 'delivered', 'high delivered');
    const low = await post(
      fixedEvent('conversation.escalated', {
        escalation: { reason: 'question about invoices', priority: 'low' },
      }),
    );
    await until(async () => (await delivery(low)).status === 'delivered', 'low delivered');
    const [first, second] = slack.messagesIn('#sales');
    expect(first!.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '🔴 Escalation · HIGH priority: Sam Lee', emoji: true },
    });
    expect(first!.text).toBe('HIGH priority escalation from Sam Lee: asked for a human');
    expect(JSON.stringify(first!.blocks[1])).toContain('*Priority*\\nHIGH');
    expect((second!.blocks[0]!.text as { text: string }).text).toBe('🟡 Escalation · LOW priority: Sam Lee');
    expect(second!.text).toBe('LOW priority escalation from Sam Lee: question about invoices');
    // Without a summary, the last lines of the conversation stand in.
    expect(slack.render(second!, { heading: false })).toContain('Last messages');
    expect(slack.render(second!, { heading: false })).toContain('Visitor: I was charged twice');
  });

  it("escapes visitors' text for mrkdwn, so it cannot ping a channel or forge a link", async () => {
    const { slack, post, delivery } = await startSlackService();
    const id = await post(
      fixedEvent('lead.qualified', {
        contact: {
          email: 'tom@jerry.example',
          name: 'Tom & Jerry <!channel>',
          company: '<https://evil.example|Click me>',
        },
        lead: { summary: 'Wants <!here> & a demo > now' },
      }),
    );
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const [message] = slack.messages;
    const all = texts(message!);
    const mrkdwn = all.filter((text) => text !== 'Tom & Jerry <!channel>' && !text.startsWith('🎯'));
    for (const text of mrkdwn) {
      expect(text).not.toMatch(/<!channel>|<!here>|<https:\/\/evil/);
    }
    expect(all).toContain('*Name*\nTom &amp; Jerry &lt;!channel&gt;');
    expect(all).toContain('*Company*\n&lt;https://evil.example|Click me&gt;');
    expect(all).toContain('*Summary*\nWants &lt;!here&gt; &amp; a demo &gt; now');
    expect(message!.text).toBe(
      'New qualified lead: Tom &amp; Jerry &lt;!channel&gt; (&lt;https://evil.example|Click me&gt;)',
    );
    // The header is plain text: Slack shows it as written, nothing is parsed.
    expect(all).toContain('🎯 New qualified lead: Tom & Jerry <!channel>');
  });

  it('cuts long content to Block Kit limits instead of failing with invalid_blocks', async () => {
    const { slack, post, delivery } = await startSlackService();
    const long = (word: string, n: number) => Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ');
    const id = await post(
      fixedEvent('lead.qualified', {
        contact: { email: 'long@acme.example', name: long('Name', 60), company: long('Co & <x>', 400) },
        lead: { summary: long('summary & <stuff>', 600), score: 90 },
      }),
    );
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const [message] = slack.messages;
    const [header, fields, body] = message!.blocks as {
      text?: { text: string };
      fields?: { text: string }[];
    }[];
    expect(header!.text!.text).toHaveLength(150);
    expect(header!.text!.text.endsWith('…')).toBe(true);
    for (const field of fields!.fields!) expect(field.text.length).toBeLessThanOrEqual(2000);
    expect(body!.text!.text.length).toBeLessThanOrEqual(3000);
    expect(body!.text!.text.endsWith('…')).toBe(true);
    // The cut never leaves half an escape behind.
    expect(body!.text!.text).not.toMatch(/&[a-z]*…$/);
    expect(slack.calls.filter((call) => call.error)).toEqual([]);
  });

  it('cuts an overlong newest message and an overlong conversation link with an ellipsis, never drops them', async () => {
    const { slack, post, delivery, attempts } = await startSlackService();
    const said = `Here is our whole RFP pasted in: ${'requirement & detail '.repeat(200)}`;
    const url = `https://chat.example/c/8842?context=${'a'.repeat(3400)}`;
    const id = await post(
      fixedEvent('lead.qualified', {
        conversation: {
          id: 'conv_8842',
          url,
          messages: [
            { role: 'bot', text: 'Hi! What brings you here?' },
            { role: 'user', text: said, author: 'Dana' },
          ],
        },
      }),
    );
    await until(async () => (await delivery(id)).status === 'delivered', 'delivered');
    const all = texts(slack.messages[0]!).join('\n');
    // The beginning of what the visitor said is there, cut with an ellipsis inside the code block.
    expect(all).toContain('Visitor (Dana): Here is our whole RFP pasted in: requirement &amp; detail');
    expect(all).toMatch(/…```/);
    expect(all).toContain('[1 earlier message not shown]');
    // The link is too long for a button (Slack: 3,000): shown cut, as text, with why.
    expect(all).toContain(
      `Conversation link not shown as a button: ${url.length.toLocaleString('en-US')} characters is over Slack's 3,000`,
    );
    expect(all).toContain('https://chat.example/c/8842?context=aaa');
    const [attempt] = await attempts(id);
    expect(attempt!.response_summary).toContain('too long for a button and is shown cut');
    expect(slack.calls.filter((call) => call.error)).toEqual([]);
  });

  it('lets admins pick the channel by a field and bring their own blocks, keeping the buttons', async () => {
    const { slack, post, delivery } = await startSlackService({
      slack: {
        channel: "{{ metadata.slack_channel | default: '#sales' }}",
        messages: {
          'lead.qualified': {
            blocks:
              '[{"type":"section","text":{"type":"mrkdwn","text":{{ contact.name | prepend: "*Hot lead:* " | json }}}}]',
            text: 'Hot lead {{ contact.email }}',
          },
          'feedback.submitted': { header: 'Feedback {{ feedback.rating }}', fields: {}, body: '' },
        },
      },
    });
    const lead = await post(fixedEvent('lead.qualified', { metadata: { slack_channel: 'support' } }));
    const feedback = await post(fixedEvent('feedback.submitted'));
    await until(async () => (await delivery(lead)).status === 'delivered', 'lead delivered');
    await until(async () => (await delivery(feedback)).status === 'delivered', 'feedback delivered');
    const [custom] = slack.messagesIn('#support');
    expect(custom!.text).toBe('Hot lead dana.reyes@acme.example');
    expect(custom!.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*Hot lead:* Dana Reyes' } },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: 'leadrelay_link_0',
            text: { type: 'plain_text', text: 'View conversation', emoji: true },
            url: 'https://chat.example/c/8842',
          },
        ],
      },
    ]);
    const [short] = slack.messagesIn('#sales');
    expect(short!.blocks.map((block) => block.type)).toEqual(['header', 'actions', 'context']);
    expect(short!.blocks[0]).toMatchObject({ text: { text: 'Feedback 1' } });
  });

  it('a blocks template that breaks on one event makes that delivery dead, saying why', async () => {
    const { slack, post, delivery } = await startSlackService({
      slack: {
        messages: {
          'lead.qualified': {
            // Quoted by hand instead of `| json`: fine for the sample, broken by a name with a quote.
            blocks: '[{"type":"section","text":{"type":"mrkdwn","text":"{{ contact.name }}"}}]',
          },
        },
      },
    });
    const id = await post(
      fixedEvent('lead.qualified', { contact: { email: 'q@x.example', name: 'Dana "DJ" Reyes' } }),
    );
    await until(async () => (await delivery(id)).status === 'dead', 'dead');
    expect((await delivery(id)).last_error).toMatch(
      /^could not build the Slack message: blocks must render a JSON array of Block Kit blocks \(.*\); insert event values with \| json — check `messages` in connectors\/alerts\.yaml$/,
    );
    expect(slack.calls.filter((call) => call.method === 'chat.postMessage')).toEqual([]);
  });

  it('reports a blocks template that does not make JSON, and a bad token, when the file loads', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'connectors'));
      writeFileSync(
        join(dir.path, 'leadrelay.yaml'),
        'sources:\n  bot:\n    verify: { secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }\nroutes:\n  - on: "*"\n    to: [alerts]\n',
      );
      writeFileSync(
        join(dir.path, 'connectors', 'alerts.yaml'),
        [
          'type: slack',
          'token: not-a-token',
          'channel: "#sales"',
          'messages:',
          '  lead.qualified:',
          '    blocks: \'[{"type": "section", "text": {{ contact.name }}}]\'',
          '',
        ].join('\n'),
      );
      const problems = await loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} }).then(
        () => [],
        (error: unknown) => {
          if (!(error instanceof ConfigError)) throw error;
          return error.problems.map((p) => `${p.line}:${p.col}: ${p.path}: ${p.message}`);
        },
      );
      expect(problems).toEqual([
        '2:8: token: a Slack bot token starts with xoxb- (Slack app → OAuth & Permissions)',
        expect.stringMatching(
          /^6:13: messages\.lead\.qualified\.blocks: blocks must render a JSON array of Block Kit blocks \(.*\); insert event values with \| json \(rendered for a sample lead\.qualified event\)$/,
        ),
      ]);
    } finally {
      dir.cleanup();
    }
  });
});
