import { formatPath } from '../util/key-path.ts';
import { type FieldError, validateCanonicalEvent } from './canonical-event.ts';

/** A corrected value; `null` removes the field. */
export type CorrectionValue = string | number | boolean | null;

export interface FieldCorrection {
  /** As error messages name a field: `contact.email`, `conversation.messages[2].text`. */
  path: string;
  value: CorrectionValue;
}

/** A change that was made: `from` / `to` are undefined where the field is absent. */
export interface AppliedCorrection {
  path: string;
  from: CorrectionValue | undefined;
  to: CorrectionValue | undefined;
}

export const CORRECTION_LIMITS = { fields: 50, pathLength: 200, depth: 8, valueLength: 20_000 } as const;

/**
 * Fields an operator may not correct: the id is the idempotency key, and the
 * type decided where the event was routed (its deliveries already exist).
 */
const FIXED: Record<string, string> = {
  id: "the event's id is its idempotency key; it cannot be corrected",
  type: "the event's type decided its routes; it cannot be corrected (post a new event instead)",
};

/** Keys that would reach an object's prototype rather than a field of it. */
const UNSAFE = new Set(['__proto__', 'prototype', 'constructor']);

type Segment = string | number;

/**
 * `contact.email` → `['contact', 'email']`; `conversation.messages[2].text` →
 * `['conversation', 'messages', 2, 'text']`. A string is the problem when the
 * path does not parse.
 */
export function parseFieldPath(path: string): Segment[] | string {
  if (path.length === 0) return 'name a field, for example contact.email';
  if (path.length > CORRECTION_LIMITS.pathLength)
    return `a field path has at most ${CORRECTION_LIMITS.pathLength} characters`;
  const segments: Segment[] = [];
  for (const part of path.split('.')) {
    const match = /^([^.[\]]+)((?:\[\d{1,6}\])*)$/.exec(part);
    if (!match)
      return `"${path}" is not a field path (write it like contact.email or conversation.messages[0].text)`;
    segments.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  if (segments.length > CORRECTION_LIMITS.depth)
    return `a field path has at most ${CORRECTION_LIMITS.depth} parts`;
  const unsafe = segments.find((segment) => typeof segment === 'string' && UNSAFE.has(segment));
  if (unsafe !== undefined) return `"${unsafe}" cannot be a field name`;
  return segments;
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return value !== null && typeof value === 'object';
}

function own(container: Record<string, unknown> | unknown[], key: Segment): unknown {
  return Object.hasOwn(container, key) ? (container as Record<Segment, unknown>)[key] : undefined;
}

/**
 * Applies an operator's corrections to a copy of a stored canonical event
 * and checks the result with the same validation as ingest. Only scalar
 * fields (text, numbers, true/false) are set or, with `null`, removed;
 * missing objects on the way are created (`contact.company` on an event
 * without `contact`). Values equal to the event's are skipped. Path
 * problems (`kind: 'path'`) and an invalid result (`kind: 'invalid'`) name
 * each field.
 *
 * @example
 * correctEvent({ id: 'e1', type: 'lead.qualified', contact: { email: 'dana@acme,example' } },
 *   [{ path: 'contact.email', value: 'dana@acme.example' }])
 * // → { ok: true, event: { …, contact: { email: 'dana@acme.example' } },
 * //     applied: [{ path: 'contact.email', from: 'dana@acme,example', to: 'dana@acme.example' }] }
 */
export function correctEvent(
  event: Record<string, unknown>,
  corrections: readonly FieldCorrection[],
):
  | { ok: true; event: Record<string, unknown>; applied: AppliedCorrection[] }
  | { ok: false; kind: 'path' | 'invalid'; errors: FieldError[] } {
  if (corrections.length === 0 || corrections.length > CORRECTION_LIMITS.fields) {
    return {
      ok: false,
      kind: 'path',
      errors: [{ path: '', message: `correct from 1 to ${CORRECTION_LIMITS.fields} fields at once` }],
    };
  }
  const copy = structuredClone(event);
  const applied: AppliedCorrection[] = [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const { path, value } of corrections) {
    const segments = parseFieldPath(path);
    if (typeof segments === 'string') {
      errors.push({ path, message: segments });
      continue;
    }
    const name = formatPath(segments);
    const problem = seen.has(name) ? 'this field is corrected twice' : apply(copy, segments, value, applied);
    seen.add(name);
    if (problem) errors.push({ path: name, message: problem });
  }
  if (errors.length > 0) return { ok: false, kind: 'path', errors };
  if (applied.length === 0) {
    return {
      ok: false,
      kind: 'path',
      errors: [{ path: '', message: 'nothing to correct: every value is already what the event has' }],
    };
  }
  const validated = validateCanonicalEvent(copy);
  if (!validated.ok) return { ok: false, kind: 'invalid', errors: validated.errors };
  return { ok: true, event: copy, applied };
}

/** Sets one field of `event` in place; the problem when it cannot be. */
function apply(
  event: Record<string, unknown>,
  segments: Segment[],
  value: CorrectionValue,
  applied: AppliedCorrection[],
): string | undefined {
  const path = formatPath(segments);
  const first = segments[0] as string;
  if (segments.length === 1 && Object.hasOwn(FIXED, first)) return FIXED[first];
  if (typeof value === 'string' && value.length > CORRECTION_LIMITS.valueLength)
    return `a corrected value has at most ${CORRECTION_LIMITS.valueLength} characters`;
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number must be finite';
  let container: Record<string, unknown> | unknown[] = event;
  for (const [depth, segment] of segments.slice(0, -1).entries()) {
    const here = formatPath(segments.slice(0, depth + 1));
    if (Array.isArray(container) !== (typeof segment === 'number'))
      return Array.isArray(container)
        ? `"${formatPath(segments.slice(0, depth))}" is a list; pick an item by its number, e.g. [0]`
        : `"${formatPath(segments.slice(0, depth))}" is not a list`;
    let next = own(container, segment);
    if (next === undefined) {
      if (value === null) return undefined; // Removing what is not there changes nothing.
      if (Array.isArray(container))
        return `"${here}" does not exist (the list has ${container.length} items)`;
      next = typeof segments[depth + 1] === 'number' ? [] : {};
      container[segment as string] = next;
    }
    if (!isContainer(next)) return `"${here}" is a single value; it has no "${String(segments[depth + 1])}"`;
    container = next;
  }
  const last = segments.at(-1)!;
  if (Array.isArray(container) !== (typeof last === 'number'))
    return Array.isArray(container)
      ? `"${formatPath(segments.slice(0, -1))}" is a list; pick an item by its number, e.g. [0]`
      : `"${formatPath(segments.slice(0, -1))}" is not a list`;
  const current = own(container, last);
  if (isContainer(current))
    return `"${path}" holds ${Array.isArray(current) ? 'a list' : 'several fields'}; correct one field at a time`;
  if (Array.isArray(container)) {
    if ((last as number) >= container.length)
      return `"${path}" does not exist (the list has ${container.length} items)`;
    if (value === null) return 'an item of a list cannot be removed, only its fields corrected';
  }
  const from = current as CorrectionValue | undefined;
  if (value === null) {
    if (current === undefined) return undefined;
    delete (container as Record<Segment, unknown>)[last];
    applied.push({ path, from, to: undefined });
    return undefined;
  }
  if (current === value) return undefined;
  (container as Record<Segment, unknown>)[last] = value;
  applied.push({ path, from, to: value });
  return undefined;
}
