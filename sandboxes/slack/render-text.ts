/**
 * Block Kit as plain text, roughly as Slack would show it: for the demo's
 * printout, the sandbox's `/_sandbox/transcript` page and readable golden
 * files. Not a faithful renderer; enough to see what a channel received.
 */

type Json = Record<string, unknown>;

/** mrkdwn to plain text: `<url|label>` → `label (url)`, mentions readable, escapes undone. */
export function mrkdwnToText(text: string): string {
  return text
    .replace(/<([^<>|]+)\|([^<>]+)>/g, (_all, url: string, label: string) => `${label} (${url})`)
    .replace(/<!(here|channel|everyone)(\|[^>]*)?>/g, '@$1')
    .replace(/<#([A-Z0-9]+)(\|([^>]*))?>/g, (_all, id: string, _l, name?: string) => `#${name ?? id}`)
    .replace(/<@([A-Z0-9]+)(\|([^>]*))?>/g, (_all, id: string, _l, name?: string) => `@${name ?? id}`)
    .replace(/<(https?:[^<>]+)>/g, '$1')
    .replace(/```\n?/g, '')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/gm, '$1$2')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function textOf(object: unknown): string {
  if (object === null || typeof object !== 'object') return '';
  const { type, text } = object as Json;
  if (typeof text !== 'string') return '';
  return type === 'mrkdwn' ? mrkdwnToText(text) : text;
}

/** One block as lines of text. */
export function renderBlock(block: Json): string[] {
  switch (block.type) {
    case 'header':
      return [`▌ ${textOf(block.text)}`];
    case 'section': {
      const lines: string[] = [];
      if (block.text) lines.push(...textOf(block.text).split('\n'));
      if (Array.isArray(block.fields))
        for (const field of block.fields) {
          const [label, ...value] = textOf(field).split('\n');
          lines.push(
            value.length > 0 ? `${label?.replace(/^\*(.*)\*$/, '$1')}: ${value.join(' ')}` : `${label}`,
          );
        }
      return lines;
    }
    case 'actions':
      return [
        (Array.isArray(block.elements) ? (block.elements as Json[]) : [])
          .map((element) =>
            element.type === 'button'
              ? `[ ${textOf(element.text)}${typeof element.url === 'string' ? ` → ${element.url}` : ''} ]`
              : `[ ${String(element.type)} ]`,
          )
          .join(' '),
      ];
    case 'context':
      return [
        `· ${(Array.isArray(block.elements) ? (block.elements as Json[]) : []).map(textOf).filter(Boolean).join(' ')}`,
      ];
    case 'divider':
      return ['────────────'];
    default:
      return [`[${String(block.type)} block]`];
  }
}

/** A message's blocks as text (its `text` when it has none). */
export function renderMessageText(message: { text?: string; blocks?: unknown }): string {
  const blocks = Array.isArray(message.blocks) ? (message.blocks as Json[]) : [];
  if (blocks.length === 0) return mrkdwnToText(message.text ?? '');
  return blocks.flatMap(renderBlock).join('\n');
}
