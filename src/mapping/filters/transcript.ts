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
 * out until the rest fits, and a first line says how many; a message is
 * never cut in the middle. User text is escaped in HTML.
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
  return renderNotice(lines.length, format).slice(0, limit);
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
