import type { EventType } from '../../src/event/canonical-event.ts';
import { compileTemplate, type Template } from '../../src/mapping/template.ts';
import type { RecordLink } from '../types.ts';

/** A Block Kit block as JSON; kept loose because admins may write any block type. */
export type Block = Record<string, unknown> & { type: string };

/** What one `chat.postMessage` carries besides the channel. */
export interface MessageContent {
  /** The plain-text fallback: notifications, screen readers, clients without Block Kit. */
  text: string;
  blocks: Block[];
}

/** Block Kit limits (docs.slack.dev/reference/block-kit): longer text is cut, extra items left out. */
export const LIMITS = {
  blocks: 50,
  header: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  buttonText: 75,
  url: 3000,
  actionsElements: 25,
  contextElements: 10,
  /** Slack cuts `text` at 40,000; a notification shows far less. */
  text: 3000,
} as const;

// ---------------------------------------------------------------------------------------------
// Escaping

/** Slack's three control characters in mrkdwn (`&`, `<`, `>`): user text must never form a link or a @channel. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The event with every string escaped for mrkdwn: what mrkdwn templates render over. */
export function escapedEvent(value: unknown): unknown {
  if (typeof value === 'string') return escapeMrkdwn(value);
  if (Array.isArray(value)) return value.map(escapedEvent);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, escapedEvent(inner)]));
  return value;
}

/** A mrkdwn link `<url|label>`; the label is escaped, `|` in the URL encoded. */
export function mrkdwnLink(url: string, label: string): string {
  return `<${escapeMrkdwn(url).replaceAll('|', '%7C')}|${escapeMrkdwn(label)}>`;
}

// ---------------------------------------------------------------------------------------------
// Default messages per event type

const WHO =
  '{{ contact.name | default: contact.email | default: contact.phone | default: "unknown visitor" }}';
const PRIORITY_ICON =
  '{% assign p = escalation.priority | downcase %}{% case p %}{% when "urgent", "high", "critical" %}🔴{% when "medium", "normal" %}🟠{% else %}🟡{% endcase %}';
const LAST_MESSAGES =
  '{% if conversation.messages.size > 0 %}*Last messages*\n```{{ conversation | transcript: "text", 800 }}```{% endif %}';
const CONTEXT =
  '{% if conversation.channel %}{{ conversation.channel }} chat{% endif %}{% if conversation.id %} · {{ conversation.id }}{% endif %}{% if occurred_at %} · {{ occurred_at | date: "%b %-d, %H:%M UTC", "UTC" }}{% endif %}';
const CONTACT_FIELDS = {
  Name: '{{ contact.name }}',
  Email: '{{ contact.email }}',
  Phone: '{{ contact.phone }}',
  Company: '{{ contact.company }}',
};

/** The template sources of the default alerts; README.md shows them to admins. */
export const DEFAULT_MESSAGES: Record<
  EventType,
  { header: string; fields: Record<string, string>; body: string; context: string; text: string }
> = {
  'lead.qualified': {
    header: `🎯 New qualified lead: ${WHO}`,
    fields: {
      ...CONTACT_FIELDS,
      'Job title': '{{ contact.job_title }}',
      Score: '{{ lead.score }}',
      Budget: '{{ lead.budget }}',
      Timeline: '{{ lead.timeline }}',
      'Use case': '{{ lead.use_case }}',
      Website: '{{ contact.website }}',
    },
    body: `{% if lead.summary %}*Summary*\n{{ lead.summary }}{% elsif conversation.summary %}*Summary*\n{{ conversation.summary }}{% else %}${LAST_MESSAGES}{% endif %}`,
    context: CONTEXT,
    text: `New qualified lead: ${WHO}{% if contact.company %} ({{ contact.company }}){% endif %}{% if lead.score %}, score {{ lead.score }}{% endif %}`,
  },
  'conversation.escalated': {
    header: `${PRIORITY_ICON} Escalation{% if escalation.priority %} · {{ escalation.priority | upcase }} priority{% endif %}: ${WHO}`,
    fields: {
      Priority: '{{ escalation.priority | upcase }}',
      Reason: '{{ escalation.reason }}',
      ...CONTACT_FIELDS,
    },
    body: `{% if escalation.summary %}*Summary*\n{{ escalation.summary }}{% else %}${LAST_MESSAGES}{% endif %}`,
    context: CONTEXT,
    text: `{% if escalation.priority %}{{ escalation.priority | upcase }} priority escalation{% else %}Escalation{% endif %} from ${WHO}{% if escalation.reason %}: {{ escalation.reason }}{% endif %}`,
  },
  'feedback.submitted': {
    header: `{% if feedback.rating <= 2 %}👎 Negative feedback{% else %}💬 Feedback{% endif %}{% if feedback.rating %} ({{ feedback.rating }}/5){% endif %}: ${WHO}`,
    fields: {
      Rating:
        '{% if feedback.rating %}{% for i in (1..5) %}{% if i <= feedback.rating %}★{% else %}☆{% endif %}{% endfor %} {{ feedback.rating }}/5{% endif %}',
      ...CONTACT_FIELDS,
    },
    body: `{% if feedback.comment %}*Comment*\n{{ feedback.comment }}{% endif %}{% if feedback.comment and conversation.messages.size > 0 %}\n\n{% endif %}${LAST_MESSAGES}`,
    context: CONTEXT,
    text: `Feedback{% if feedback.rating %} {{ feedback.rating }}/5{% endif %} from ${WHO}{% if feedback.comment %}: {{ feedback.comment | truncate: 200 }}{% endif %}`,
  },
};

export const DEFAULT_DIGEST_LINE = `{% case type %}{% when "lead.qualified" %}🎯{% when "conversation.escalated" %}🚨{% else %}💬{% endcase %} *${WHO}*{% if contact.name and contact.email %} · {{ contact.email }}{% endif %}{% if contact.company %} · {{ contact.company }}{% endif %}{% if lead.score %} · score {{ lead.score }}{% endif %}{% if escalation.priority %} · {{ escalation.priority | upcase }} priority{% endif %}{% if escalation.reason %} · {{ escalation.reason }}{% endif %}{% if feedback.rating %} · rated {{ feedback.rating }}/5{% endif %}{% if feedback.comment %} · “{{ feedback.comment | truncate: 120 }}”{% endif %}`;

/** Templates of one alert, compiled. */
export interface MessageTemplates {
  header: Template;
  fields: Record<string, Template>;
  body: Template;
  context: Template;
  text: Template;
  blocks?: Template | undefined;
}

export const DEFAULT_TEMPLATES: Record<EventType, MessageTemplates> = Object.fromEntries(
  Object.entries(DEFAULT_MESSAGES).map(([type, message]) => [
    type,
    {
      header: compileTemplate(message.header),
      fields: Object.fromEntries(
        Object.entries(message.fields).map(([label, source]) => [label, compileTemplate(source)]),
      ),
      body: compileTemplate(message.body),
      context: compileTemplate(message.context),
      text: compileTemplate(message.text),
    },
  ]),
) as Record<EventType, MessageTemplates>;

export const DEFAULT_DIGEST_TEMPLATE = compileTemplate(DEFAULT_DIGEST_LINE);

// ---------------------------------------------------------------------------------------------
// Building

/**
 * One alert. Plain-text parts (header, buttons) render over the event as
 * it is; mrkdwn parts (fields, body, context, the fallback text) over the
 * escaped event, so a visitor's `<!channel>` stays text while an admin's own
 * `*bold*` or `<https://…|link>` in the template works.
 */
export function buildAlert(
  templates: MessageTemplates,
  event: Readonly<Record<string, unknown>>,
  buttons: Button[],
): MessageContent {
  const escaped = escapedEvent(event) as Record<string, unknown>;
  const header = templates.header.render(event);
  let blocks: Block[];
  if (templates.blocks) {
    blocks = renderCustomBlocks(templates.blocks, event);
    if (buttons.length > 0) blocks.push(actionsBlock(buttons));
  } else {
    blocks = [];
    if (header) blocks.push({ type: 'header', text: plainText(header) });
    const fields: Block[] = [];
    for (const [label, template] of Object.entries(templates.fields)) {
      const value = template.render(escaped);
      if (value !== undefined) fields.push({ type: 'mrkdwn', text: `*${escapeMrkdwn(label)}*\n${value}` });
    }
    if (fields.length > 0) blocks.push({ type: 'section', fields });
    const body = templates.body.render(escaped);
    if (body) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: body } });
    if (buttons.length > 0) blocks.push(actionsBlock(buttons));
    const context = templates.context.render(escaped)?.replace(/^·\s*/, '');
    if (context) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context }] });
  }
  const longLink = overlongConversationUrl(event);
  if (longLink)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: longLinkNote(longLink) }] });
  const text =
    templates.text.render(escaped) ?? (header ? escapeMrkdwn(header) : `New ${String(event.type)} event`);
  return { text: truncate(text, LIMITS.text, true), blocks: enforceLimits(blocks) };
}

export interface DigestItem {
  event: Readonly<Record<string, unknown>>;
  links: RecordLink[];
}

/**
 * One message listing many alerts for one channel, in event order: a
 * header, a line per alert (who, email, company, score or priority, links),
 * and a note on why it is a digest. Split into several messages only when the
 * lines would not fit Block Kit's 50 blocks.
 */
export function buildDigest(
  lineTemplate: Template,
  items: DigestItem[],
  digestAfter: number,
): (MessageContent & { count: number })[] {
  const lines = items.map((item, i) => {
    const escaped = escapedEvent(item.event) as Record<string, unknown>;
    let line: string | undefined;
    try {
      line = lineTemplate.render(escaped);
    } catch {
      // A broken admin template must not hold the whole digest back.
      line = undefined;
    }
    line ??= DEFAULT_DIGEST_TEMPLATE.render(escaped) ?? escapeMrkdwn(String(item.event.type ?? 'event'));
    const links = item.links.map((link) => mrkdwnLink(link.url, link.label));
    return truncate(`${i + 1}. ${[line, ...links].join(' · ')}`, LIMITS.sectionText, true);
  });
  const allLeads = items.every((item) => item.event.type === 'lead.qualified');
  const noun = allLeads ? 'qualified leads' : 'alerts';
  const header = `📬 ${items.length} new ${noun}`;
  const note = `${items.length} ${noun} arrived at once for this channel (more than ${digestAfter}), so they are listed in one message.`;

  // Lines go into sections of ≤ 3000 characters (as item indices); a message holds ≤ 47 sections.
  const sections: number[][] = [];
  let size = Number.POSITIVE_INFINITY;
  for (const [i, line] of lines.entries()) {
    if (size + line.length + 1 > LIMITS.sectionText) {
      sections.push([]);
      size = -1;
    }
    sections.at(-1)!.push(i);
    size += line.length + 1;
  }
  const perMessage = LIMITS.blocks - 3;
  const parts = Math.ceil(sections.length / perMessage);
  const messages: (MessageContent & { count: number })[] = [];
  for (let part = 0; part < parts; part++) {
    const chunk = sections.slice(part * perMessage, (part + 1) * perMessage);
    const indices = chunk.flat();
    const title = parts > 1 ? `${header} (part ${part + 1} of ${parts})` : header;
    const names = indices.map((i) => {
      const contact = (items[i]!.event.contact ?? {}) as Record<string, unknown>;
      return String(contact.name ?? contact.email ?? contact.phone ?? 'unknown visitor');
    });
    const blocks: Block[] = [
      { type: 'header', text: plainText(title) },
      ...chunk.map((section) => ({
        type: 'section',
        text: { type: 'mrkdwn', text: section.map((i) => lines[i]!).join('\n') },
      })),
      { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(note) }] },
    ];
    messages.push({
      count: indices.length,
      text: truncate(escapeMrkdwn(`${title}: ${names.join(', ')}`), LIMITS.text, true),
      blocks: enforceLimits(blocks),
    });
  }
  return messages;
}

/** Renders an admin's `blocks` template (over the escaped event) into a list of blocks, or says what is wrong. */
export function renderCustomBlocks(template: Template, event: Readonly<Record<string, unknown>>): Block[] {
  const json = template.render(escapedEvent(event) as object) ?? '[]';
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(
      `blocks must render a JSON array of Block Kit blocks (${(error as Error).message}); insert event values with | json`,
    );
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
    parsed = (parsed as { blocks?: unknown }).blocks ?? parsed;
  if (!Array.isArray(parsed))
    throw new Error('blocks must render a JSON array of Block Kit blocks (or an object with "blocks")');
  for (const [i, block] of parsed.entries()) {
    if (block === null || typeof block !== 'object' || typeof (block as Block).type !== 'string')
      throw new Error(`blocks[${i}] is not a Block Kit block (an object with a "type")`);
  }
  return parsed as Block[];
}

// ---------------------------------------------------------------------------------------------
// Buttons

export interface Button {
  label: string;
  url: string;
}

/**
 * Buttons for the alert: each link the `links_from` connectors returned
 * (`related[name].links`, in that order), then the conversation. Links that
 * are not http(s) or too long for Block Kit are left out; the same URL once.
 */
export function alertButtons(
  event: Readonly<Record<string, unknown>>,
  related: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>,
  linksFrom: readonly string[],
  conversationLabel: Template,
): Button[] {
  const buttons = recordLinks(related, linksFrom);
  const url = (event.conversation as { url?: unknown } | undefined)?.url;
  const label = conversationLabel.render(event);
  if (label && isLinkable(url)) buttons.push({ label, url });
  const seen = new Set<string>();
  return buttons.filter((button) => !seen.has(button.url) && seen.add(button.url));
}

/** `related[name].links` of each connector in `linksFrom`, keeping only well-formed links. */
export function recordLinks(
  related: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>,
  linksFrom: readonly string[],
): RecordLink[] {
  const links: RecordLink[] = [];
  for (const name of linksFrom) {
    const list = related[name]?.links;
    if (!Array.isArray(list)) continue;
    for (const link of list as unknown[]) {
      const { label, url } = (link ?? {}) as { label?: unknown; url?: unknown };
      if (typeof label === 'string' && label.trim() !== '' && isLinkable(url)) links.push({ label, url });
    }
  }
  return links;
}

/**
 * The conversation URL when it is a web link too long for a Block Kit button
 * (over 3,000 characters): the alert then shows it cut, as text, and says so,
 * instead of leaving the button out without a word.
 */
export function overlongConversationUrl(event: Readonly<Record<string, unknown>>): string | undefined {
  const url = (event.conversation as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' && /^https?:\/\/\S+$/i.test(url) && url.length > LIMITS.url
    ? url
    : undefined;
}

function longLinkNote(url: string): string {
  const shown = escapeMrkdwn(url.slice(0, 200)).replace(/&[#a-zA-Z0-9]{0,8}$/, '');
  return `Conversation link not shown as a button: ${url.length.toLocaleString('en-US')} characters is over Slack's 3,000 — ${shown}…`;
}

function isLinkable(url: unknown): url is string {
  return typeof url === 'string' && /^https?:\/\/\S+$/i.test(url) && url.length <= LIMITS.url;
}

function actionsBlock(buttons: Button[]): Block {
  return {
    type: 'actions',
    elements: buttons.slice(0, LIMITS.actionsElements).map((button, i) => ({
      type: 'button',
      action_id: `leadrelay_link_${i}`,
      text: plainText(button.label),
      url: button.url,
      ...(i === 0 && buttons.length > 1 ? { style: 'primary' } : {}),
    })),
  };
}

function plainText(text: string) {
  return { type: 'plain_text', text, emoji: true };
}

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * Cuts texts and lists to Block Kit's limits so that Slack never answers
 * `invalid_blocks` for a long transcript or a verbose admin template: at most
 * 50 blocks, header ≤ 150, section text ≤ 3000, ≤ 10 fields of ≤ 2000,
 * button text ≤ 75, buttons with a URL over 3000 left out (an overlong conversation
 * link is shown as text instead: `overlongConversationUrl`). Empty sections go.
 */
export function enforceLimits(blocks: Block[]): Block[] {
  const out: Block[] = [];
  for (const block of blocks) {
    const fixed = fixBlock(block);
    if (fixed) out.push(fixed);
  }
  return out.slice(0, LIMITS.blocks);
}

type TextObject = { type?: unknown; text?: unknown };

function fixText(object: unknown, max: number): TextObject | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const text = (object as TextObject).text;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  return { ...object, text: truncate(text, max, (object as TextObject).type === 'mrkdwn') };
}

function fixBlock(block: Block): Block | undefined {
  switch (block.type) {
    case 'header': {
      const text = fixText(block.text, LIMITS.header);
      return text ? { ...block, text } : undefined;
    }
    case 'section': {
      const fixed: Block = { ...block };
      const text = block.text === undefined ? undefined : fixText(block.text, LIMITS.sectionText);
      if (text) fixed.text = text;
      else delete fixed.text;
      if (Array.isArray(block.fields)) {
        const fields = block.fields
          .map((field) => fixText(field, LIMITS.fieldText))
          .filter((field) => field !== undefined)
          .slice(0, LIMITS.fields);
        if (fields.length > 0) fixed.fields = fields;
        else delete fixed.fields;
      }
      return fixed.text || fixed.fields || fixed.accessory ? fixed : undefined;
    }
    case 'actions': {
      if (!Array.isArray(block.elements)) return block;
      const elements = (block.elements as Record<string, unknown>[])
        .filter((element) => typeof element.url !== 'string' || element.url.length <= LIMITS.url)
        .map((element) =>
          element.type === 'button'
            ? { ...element, text: fixText(element.text, LIMITS.buttonText) ?? element.text }
            : element,
        )
        .slice(0, LIMITS.actionsElements);
      return elements.length > 0 ? { ...block, elements } : undefined;
    }
    case 'context': {
      if (!Array.isArray(block.elements)) return block;
      const elements = (block.elements as Record<string, unknown>[])
        .map((element) =>
          element.type === 'mrkdwn' || element.type === 'plain_text'
            ? fixText(element, LIMITS.sectionText)
            : element,
        )
        .filter((element) => element !== undefined)
        .slice(0, LIMITS.contextElements);
      return elements.length > 0 ? { ...block, elements } : undefined;
    }
    default:
      return block;
  }
}

/**
 * At most `max` characters, ending in `…` when cut. In mrkdwn the cut never
 * splits an escape (`&amp;`), a link (`<url|label>`) or leaves a code block open.
 */
export function truncate(text: string, max: number, mrkdwn = false): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  if (!mrkdwn) return `${cut}…`;
  cut = cut.replace(/&[a-z]*$/i, '').replace(/<[^>]*$/, '');
  if ((cut.match(/```/g)?.length ?? 0) % 2 === 1) {
    cut = cut
      .slice(0, max - 4)
      .replace(/&[a-z]*$/i, '')
      .replace(/<[^>]*$/, '');
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
    // Closing the fence may have opened a new one if the cut removed part of a fence.
    return (cut.match(/```/g)?.length ?? 0) % 2 === 1 ? `${cut}…\`\`\`` : `${cut}…`;
  }
  return `${cut}…`;
}
