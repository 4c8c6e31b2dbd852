import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EVENT_TYPES, type EventType, TRANSCRIPT_LIMITS } from '../event/canonical-event.ts';
import { type Condition, compileCondition, rootsCheck } from '../mapping/condition.ts';
import { engine } from '../mapping/engine.ts';
import { explain } from '../mapping/template.ts';
import { templateField } from '../mapping/template-field.ts';
import type { HeaderLookup } from './verify/verdict.ts';

/**
 * A source mapping (`sources.NAME.map`, or a preset's): templates that build
 * the canonical event (SPEC §3) from whatever a chat platform posts. Every
 * template and condition is compiled while the configuration is validated,
 * so a broken one is reported at its `file:line:col`.
 *
 * The rendering context is `{ payload, headers, source }`: the raw JSON body,
 * the request headers by lower-case name, and the source's own settings
 * (`source.name`, `source.base_url`); in `messages` also `item` (one element
 * of the `from` list) and `index`.
 */

/** What a mapping may read about the source it runs for. */
export interface SourceInfo {
  name?: string | undefined;
  /** The platform's own address (e.g. a Chatwoot instance), for links back into it. */
  base_url?: string | undefined;
}

/** What a mapping's templates and conditions read (see the module comment). */
const MAPPING_ROOTS = ['payload', 'headers', 'source'] as const;

/** A route-style `when:` condition compiled at load time. */
function conditionField(roots: readonly string[]) {
  const checkPath = rootsCheck(roots);
  return z.string().transform((source, ctx): Condition => {
    try {
      return compileCondition(source, checkPath);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid condition: ${(error as Error).message}` });
      return z.NEVER;
    }
  });
}

/** A bare Liquid expression such as `payload.messages` whose value (an array) is used as is. */
function expressionField() {
  return z.string().transform((source, ctx) => {
    if (/\{[{%]|[%}]\}/.test(source)) {
      ctx.addIssue({ code: 'custom', message: 'write the bare expression, without {{ }}' });
      return z.NEVER;
    }
    try {
      engine.parse(`{{ ${source} }}`);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid expression: ${explain((error as Error).message)}` });
      return z.NEVER;
    }
    return (context: object): unknown => engine.evalValueSync(source, context);
  });
}

const FIELD_PATH =
  /^(occurred_at|(contact|conversation|lead|escalation|feedback|metadata)(\.[A-Za-z0-9_-]+)+)$/;

/** Canonical fields that are numbers: their rendered text is converted (SPEC §3). */
const NUMERIC_FIELDS = new Set(['lead.score', 'feedback.rating']);

export const sourceMapSchema = z.strictObject({
  /** The idempotency key, e.g. `"{{ payload.id }}"`; headers only where the signature covers them. */
  id: templateField().optional(),
  /** The first rule whose `when` holds picks the type; none → the payload is recorded as ignored. */
  type: z
    .array(z.strictObject({ when: conditionField(MAPPING_ROOTS).optional(), value: z.enum(EVENT_TYPES) }))
    .min(1, 'list at least one rule'),
  /** Dotted canonical path → template, e.g. `contact.email: "{{ payload.meta.sender.email }}"`. */
  fields: z
    .record(
      z.string().regex(FIELD_PATH, 'a canonical field path such as contact.email or lead.score'),
      templateField(),
    )
    .default({}),
  /** `conversation.messages`, one per element of the `from` array. */
  messages: z
    .strictObject({
      /**
       * Where the items are: one expression, or several whose items are joined in
       * order (a single object counts as one item), e.g. a conversation's opening
       * message followed by its later parts.
       */
      from: z.union([expressionField(), z.array(expressionField()).min(1)]),
      when: conditionField([...MAPPING_ROOTS, 'item', 'index']).optional(),
      role: templateField(),
      text: templateField(),
      at: templateField().optional(),
      author: templateField().optional(),
    })
    .optional(),
});

export type SourceMap = z.output<typeof sourceMapSchema>;

export type MappingResult =
  | { kind: 'event'; event: Record<string, unknown>; id: string | undefined }
  | { kind: 'ignored'; id: string; reason: string }
  /** Over a limit (the transcript's items): refused with 422, naming the limit. */
  | { kind: 'too_large'; path: string; message: string };

/**
 * Builds the canonical event from a raw payload. The result still goes
 * through canonical validation: a 422 for a mapped source means the mapping
 * (not the platform) produced an invalid event.
 */
export function applySourceMap(
  map: SourceMap,
  payload: unknown,
  headers: HeaderLookup,
  rawBody: Buffer | string,
  source: SourceInfo = {},
): MappingResult {
  const steps = mappingSteps(map, payload, headers, rawBody, source);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * {@link applySourceMap} for ingest: the same result, but it gives the event
 * loop back whenever it has worked for `sliceMs`, so one signed payload with
 * a long transcript never holds up other requests (or `/healthz`) for longer.
 */
export async function applySourceMapInSlices(
  map: SourceMap,
  payload: unknown,
  headers: HeaderLookup,
  rawBody: Buffer | string,
  source: SourceInfo = {},
  sliceMs = 2,
): Promise<MappingResult> {
  const steps = mappingSteps(map, payload, headers, rawBody, source);
  let sliceStarted = performance.now();
  let step = steps.next();
  while (!step.done) {
    if (performance.now() - sliceStarted >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStarted = performance.now();
    }
    step = steps.next();
  }
  return step.value;
}

/** The mapping, one step per transcript item, so that a caller may pause between items. */
function* mappingSteps(
  map: SourceMap,
  payload: unknown,
  headers: HeaderLookup,
  rawBody: Buffer | string,
  source: SourceInfo,
): Generator<void, MappingResult> {
  const context = { payload, headers: headerObject(headers), source };
  const id = map.id?.render(context);
  const rule = map.type.find((candidate) => !candidate.when || candidate.when(context));
  if (!rule) {
    return {
      kind: 'ignored',
      id: id ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`,
      reason: 'no type rule matched',
    };
  }
  const event: Record<string, unknown> = { type: rule.value as EventType };
  if (id !== undefined) event.id = id;
  for (const [path, template] of Object.entries(map.fields)) {
    const text = template.render(context);
    if (text === undefined) continue;
    setPath(event, path, NUMERIC_FIELDS.has(path) ? toNumber(text) : text);
  }
  const transcript = map.messages;
  if (transcript) {
    const items = transcriptItems(transcript.from, context);
    if (items.length > 0) {
      // Refused before any item is mapped: mapping them all first would be the cost this bounds.
      if (items.length > TRANSCRIPT_LIMITS.messages) {
        return {
          kind: 'too_large',
          path: 'conversation.messages',
          message: `the payload has ${items.length} transcript items (messages.from); at most ${TRANSCRIPT_LIMITS.messages} are accepted`,
        };
      }
      const messages: Record<string, string>[] = [];
      for (const [index, item] of items.entries()) {
        yield;
        const itemContext = { ...context, item, index };
        if (transcript.when && !transcript.when(itemContext)) continue;
        const text = transcript.text.render(itemContext);
        if (text === undefined) continue;
        const message: Record<string, string> = { role: transcript.role.render(itemContext) ?? '', text };
        const at = transcript.at?.render(itemContext);
        if (at !== undefined) message.at = at;
        const author = transcript.author?.render(itemContext);
        if (author !== undefined) message.author = author;
        messages.push(message);
      }
      if (messages.length > 0) setPath(event, 'conversation.messages', messages);
    }
  }
  return { kind: 'event', event, id };
}

/** The items of every `from` expression, in order: arrays spread, a single object as one item. */
function transcriptItems(
  from: ((context: object) => unknown) | ((context: object) => unknown)[],
  context: object,
): unknown[] {
  const lists = Array.isArray(from) ? from.map((expression) => expression(context)) : [from(context)];
  if (!Array.isArray(from)) return Array.isArray(lists[0]) ? lists[0] : [];
  return lists.flatMap((value) =>
    Array.isArray(value) ? value : value !== null && typeof value === 'object' ? [value] : [],
  );
}

/** A number when the text is one, else the text (so validation names the field). */
function toNumber(text: string): number | string {
  const value = Number(text);
  return text.trim() !== '' && Number.isFinite(value) ? value : text;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Headers as a plain object for templates, looked up lazily by lower-case name. */
function headerObject(headers: HeaderLookup): Record<string, string | undefined> {
  return new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => (typeof name === 'string' ? headers(name.toLowerCase()) : undefined),
    has: (_target, name) => typeof name === 'string' && headers(name.toLowerCase()) !== undefined,
    getOwnPropertyDescriptor: (_target, name) =>
      typeof name === 'string' && headers(name.toLowerCase()) !== undefined
        ? { configurable: true, enumerable: true, value: headers(name.toLowerCase()) }
        : undefined,
  });
}
