import type { CorrectionValue, FieldCorrection } from '../../event/correct-event.ts';

/** A correction as the admin API receives it. */
export interface CorrectionBody {
  changes: FieldCorrection[];
  by: string;
  retry: boolean;
}

/**
 * `{"set": {"contact.email": "dana@acme.example"}, "by": "Sam", "retry": true}`
 * as a correction, or what is wrong with it (answered 400). `retry` defaults
 * to true; a `null` value removes the field.
 *
 * @example
 * parseCorrectionBody('{"set":{"contact.phone":"+1 415 555 0100"},"by":"Sam"}')
 * // → { changes: [{ path: 'contact.phone', value: '+1 415 555 0100' }], by: 'Sam', retry: true }
 */
export function parseCorrectionBody(text: string): CorrectionBody | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not valid JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return 'send an object: {"set": {"contact.email": "…"}, "by": "your name"}';
  const { set, by, retry, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field "${unknown[0]}" (expected set, by, retry)`;
  if (set === null || typeof set !== 'object' || Array.isArray(set))
    return '"set" must be an object of field path → new value, e.g. {"contact.email": "dana@acme.example"}';
  const changes: FieldCorrection[] = [];
  for (const [path, value] of Object.entries(set)) {
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value))
      return `"set.${path}" must be text, a number, true/false, or null (to remove the field)`;
    changes.push({ path, value: value as CorrectionValue });
  }
  if (typeof by !== 'string') return '"by" must name who is correcting';
  if (retry !== undefined && typeof retry !== 'boolean') return '"retry" must be true or false';
  return { changes, by, retry: retry ?? true };
}
