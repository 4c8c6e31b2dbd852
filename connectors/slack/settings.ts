import { z } from 'zod';
import { EVENT_TYPES, type EventType } from '../../src/event/canonical-event.ts';
import { sampleEvent } from '../../src/event/sample-events.ts';
import type { Template } from '../../src/mapping/template.ts';
import { templateField, templateMap } from '../../src/mapping/template-field.ts';
import { duration } from '../../src/util/duration.ts';
import { commonSettings } from '../common-settings.ts';
import { renderCustomBlocks } from './blocks.ts';

/**
 * What an admin may change in the alert for one event type. Every key is
 * optional: a key left out keeps its default (see README.md), a key set to
 * `""` removes that part.
 */
const messageSettings = z.strictObject({
  header: templateField()
    .optional()
    .describe('Plain-text header (≤ 150 characters). Event values are inserted as they are.'),
  fields: templateMap()
    .optional()
    .describe(
      'Label → mrkdwn template, shown as a two-column grid (≤ 10; empty values are left out). Replaces the default fields.',
    ),
  body: templateField()
    .optional()
    .describe('mrkdwn section under the fields (≤ 3000 characters), e.g. the summary or transcript.'),
  context: templateField().optional().describe('Small grey mrkdwn line at the bottom.'),
  text: templateField()
    .optional()
    .describe('Plain-text fallback shown in notifications and screen readers; always sent.'),
  blocks: templateField()
    .optional()
    .describe(
      'Your own Block Kit: a template that renders a JSON array of blocks. Replaces header, fields, body and context; CRM and conversation buttons are appended.',
    ),
});

export type MessageSettings = z.output<typeof messageSettings>;

const eventTypeMessages = z
  .strictObject(
    Object.fromEntries(EVENT_TYPES.map((type) => [type, messageSettings.optional()])) as Record<
      EventType,
      z.ZodOptional<typeof messageSettings>
    >,
  )
  .superRefine((messages, ctx) => {
    // A `blocks` template that does not produce JSON is found now, at its line, not at 3 a.m.
    for (const type of EVENT_TYPES) {
      const blocks = messages[type]?.blocks;
      if (!blocks) continue;
      const problem = checkBlocksTemplate(blocks, type);
      if (problem) ctx.addIssue({ code: 'custom', path: [type, 'blocks'], message: problem });
    }
  });

/** `config/connectors/NAME.yaml` with `type: slack`. */
export const slackSettings = z.strictObject({
  // One delivery at a time by default: each call gets every due alert as one batch, so it can
  // keep each channel's alerts in order and decide on a digest seeing the whole backlog.
  ...commonSettings({ concurrency: 1, timeout: '10s' }),
  token: z
    .string()
    .regex(/^xox/, 'a Slack bot token starts with xoxb- (Slack app → OAuth & Permissions)')
    .describe('Bot User OAuth token (xoxb-…), e.g. "${SLACK_BOT_TOKEN}". Scopes: chat:write.'),
  base_url: z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .default('https://slack.com/api/')
    .transform((url) => (url.endsWith('/') ? url : `${url}/`))
    .describe('The Web API root (default https://slack.com/api/); point it at the sandbox for tests.'),
  channel: templateField().describe(
    'Channel name (#sales) or id (C0123…); a template, e.g. "{{ metadata.slack_channel | default: \'#sales\' }}".',
  ),
  links_from: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'a connector name'))
    .default([])
    .describe(
      'Connectors (e.g. [hubspot, salesforce]) whose record links become buttons; the alert waits for them.',
    ),
  links_timeout: duration
    .prefault('30s')
    .describe('How long an alert waits for links_from before it goes out without their buttons.'),
  conversation_button: templateField()
    .prefault('View conversation')
    .describe('Label of the button to conversation.url; "" for none.'),
  digest_after: z
    .union([z.number().int().min(1).max(49), z.literal('off')])
    .default(5)
    .describe(
      'When more than this many alerts for one channel are due at once, post one digest listing them all.',
    ),
  digest_line: templateField()
    .optional()
    .describe('mrkdwn template of one line in a digest (default: who, email, company, score or priority).'),
  thread_per_conversation: z
    .boolean()
    .default(true)
    .describe(
      "Post a conversation's later alerts to a channel as replies in the thread of its first alert there (kept in the identity map).",
    ),
  broadcast: z
    .array(z.enum(EVENT_TYPES, { message: `an event type: ${EVENT_TYPES.join(', ')}` }))
    .default(['conversation.escalated'])
    .describe(
      'Event types whose thread replies are also sent to the channel (Slack\'s "Also send to channel"); [] for none.',
    ),
  channel_interval: duration
    .prefault('1s')
    .describe("Least time between two messages to one channel (Slack's limit is about 1 per second)."),
  messages: eventTypeMessages
    .prefault({})
    .describe('Per event type: header, fields, body, context, text, blocks.'),
});

export type SlackSettings = z.output<typeof slackSettings>;

function checkBlocksTemplate(template: Template, type: EventType): string | undefined {
  try {
    renderCustomBlocks(template, sampleEvent(type, 'check'));
    return undefined;
  } catch (error) {
    return `${(error as Error).message} (rendered for a sample ${type} event)`;
  }
}
