import type { Template as LiquidTemplate } from 'liquidjs';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import { engine, filterNames } from './engine.ts';
import { TRANSCRIPT_FORMATS } from './transcript-formats.ts';

/** A field value compiled once: a literal, or a Liquid template over the event. */
export interface Template {
  readonly source: string;
  /** The rendered text, trimmed; `undefined` when it is empty, meaning "omit the field". */
  render(context: object): string | undefined;
}

/**
 * Compiles `"{{ contact.email }}"`, `"Chatbot: {{ conversation.channel }}"` or
 * a plain literal. Throws an Error whose message an admin can act on (with a
 * "did you mean" for filter names) for syntax errors and unknown filters.
 *
 * @example
 * compileTemplate('{{ contact.name | first_name }}').render(event) // 'Dana'
 */
export function compileTemplate(source: string): Template {
  if (!/\{\{|\{%/.test(source)) {
    const literal = source === '' ? undefined : source;
    return { source, render: () => literal };
  }
  const fileTag = /\{%-?\s*(include|render|layout)\b/.exec(source);
  if (fileTag)
    // Parsed fine, failed on every render: templates have no files to read (engine.ts).
    throw new Error(`the {% ${fileTag[1]} %} tag is not available: a template cannot read other files`);
  let parsed: LiquidTemplate[];
  try {
    parsed = engine.parse(source);
  } catch (error) {
    throw new Error(explain((error as Error).message));
  }
  checkTranscriptFormats(source);
  return {
    source,
    render(context) {
      const text = engine.renderSync(parsed, context).trim();
      return text === '' ? undefined : text;
    },
  };
}

/** The template engine's error, rephrased for an admin (with a "did you mean" for filter names). */
export function explain(message: string): string {
  const unknown = /undefined filter: ([\w-]+)/.exec(message);
  if (unknown) return `unknown filter "${unknown[1]}"${didYouMeanSuffix(unknown[1]!, filterNames())}`;
  return message;
}

function checkTranscriptFormats(source: string): void {
  for (const match of source.matchAll(/transcript\s*:\s*["']([^"']*)["']/g)) {
    const format = match[1]!;
    if (!TRANSCRIPT_FORMATS.includes(format as never)) {
      throw new Error(
        `transcript format must be one of ${TRANSCRIPT_FORMATS.map((f) => `"${f}"`).join(', ')}${didYouMeanSuffix(format, TRANSCRIPT_FORMATS)}`,
      );
    }
  }
}

/**
 * Renders a map of field templates, leaving out fields that render empty.
 *
 * @example
 * renderFields({ email: compileTemplate('{{ contact.email }}') }, event) // { email: 'dana@acme.example' }
 */
export function renderFields(
  fields: Readonly<Record<string, Template>>,
  context: object,
): Record<string, string> {
  const rendered: Record<string, string> = {};
  for (const [name, template] of Object.entries(fields)) {
    const value = template.render(context);
    if (value !== undefined) rendered[name] = value;
  }
  return rendered;
}
