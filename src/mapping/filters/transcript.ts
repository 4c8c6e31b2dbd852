import { escapeHtml } from '../../util/escape-html.ts';
import type { TRANSCRIPT_FORMATS } from '../transcript-formats.ts';

export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

interface Message {
  role?: unknown;
  text?: unknown;
  at?: unknown;
  author?: unknown;
}

const ROLE_LABELS: Record<string, string> = { user: 'Visitor', bot: 'Bot', agent: 'Agent', system: 'System' };

/**
 * Renders `conversation.messages` (or the conversation itself) oldest first,
 * newest last. With `limit` (characters), the oldest whole messages are left
 * out until the rest fits, and a first line says how many. Only when the
 * newest message alone is too long is its text cut, ending in `…`: a reader
 * always sees the beginning of the last thing said. User text is escaped in HTML.
 *
 * @example
 * transcript(conversation, 'markdown', 3000)
 */
export function transcript(input: unknown, format: TranscriptFormat = 'text', limit?: number): string {
  const messages = messagesOf(input);
  if (messages.length === 0) return '';
  const lines = messages.map((message) => renderMessage(message, format));
  if (limit === undefined || limit <= 0) return lines.join('\n');
  // withoutOldest[i]: length of lines[i..] joined by newlines.
  const withoutOldest = new Array<number>(lines.length + 1).fill(0);
  for (let i = lines.length - 1; i >= 0; i--) {
    withoutOldest[i] = lines[i]!.length + (i < lines.length - 1 ? 1 : 0) + withoutOldest[i + 1]!;
  }
  for (let omitted = 0; omitted < lines.length; omitted++) {
    const notice = omitted > 0 ? renderNotice(omitted, format) : '';
    const total = withoutOldest[omitted]! + (omitted > 0 ? notice.length + 1 : 0);
    if (total <= limit) return [...(omitted > 0 ? [notice] : []), ...lines.slice(omitted)].join('\n');
  }
  return newestCut(messages, format, limit);
}

/** The notice for every older message, then as much of the newest message's text as fits. */
function newestCut(messages: Message[], format: TranscriptFormat, limit: number): string {
  const older = messages.length - 1;
  const notice = older > 0 ? `${renderNotice(older, format)}\n` : '';
  const newest = messages.at(-1)!;
  const text = typeof newest.text === 'string' ? newest.text : '';
  const budget = limit - notice.length;
  // Escaping can lengthen the text, so shrink until the rendered line fits.
  let keep = Math.min(text.length, budget - renderMessage({ ...newest, text: '…' }, format).length + 1);
  while (keep > 0) {
    const line = renderMessage({ ...newest, text: `${cutText(text, keep)}…` }, format);
    if (line.length <= budget) return notice + line;
    keep -= Math.max(1, line.length - budget);
  }
  return (notice + renderMessage({ ...newest, text: '…' }, format)).slice(0, limit);
}

/** The first `length` characters, not splitting a surrogate pair or a `&amp;`-style escape. */
function cutText(text: string, length: number): string {
  let cut = text.slice(0, length);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.replace(/&[#a-zA-Z0-9]{0,8}$/, '').trimEnd();
}

function renderNotice(omitted: number, format: TranscriptFormat): string {
  const text = `[${omitted} earlier message${omitted === 1 ? '' : 's'} not shown]`;
  if (format === 'html') return `<p><em>${text}</em></p>`;
  if (format === 'markdown') return `_${text}_`;
  return text;
}

function messagesOf(input: unknown): Message[] {
  const list = Array.isArray(input)
    ? input
    : input && typeof input === 'object' && Array.isArray((input as { messages?: unknown }).messages)
      ? (input as { messages: unknown[] }).messages
      : [];
  return list.filter((m): m is Message => m !== null && typeof m === 'object');
}

function renderMessage(message: Message, format: TranscriptFormat): string {
  const role = typeof message.role === 'string' ? message.role : 'user';
  const label = ROLE_LABELS[role] ?? role;
  const who = typeof message.author === 'string' && message.author ? `${label} (${message.author})` : label;
  const time = typeof message.at === 'string' ? clock(message.at) : '';
  const text = typeof message.text === 'string' ? message.text : '';
  switch (format) {
    case 'html':
      return `<p><strong>${escapeHtml(who)}</strong>${time ? ` <small>${time}</small>` : ''}<br>${escapeHtml(text).replaceAll('\n', '<br>')}</p>`;
    case 'markdown':
      return `**${escapeMarkdown(who)}**${time ? ` _${time}_` : ''}: ${escapeMarkdown(text)}`;
    default:
      return `${time ? `[${time}] ` : ''}${who}: ${text}`;
  }
}

function clock(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().slice(11, 16);
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, '\\$1');
}
