import { z } from 'zod';
import { didYouMean, didYouMeanSuffix } from '../util/did-you-mean.ts';
import { canonicalEventSchema } from './canonical-event.ts';

/** What Liquid lets a condition read of any list or text besides its items. */
const LIST_PROPERTIES = ['size', 'first', 'last'];

/**
 * Objects a bot fills with whatever it asked (`lead.industry`, `lead.seats`):
 * any field is accepted there unless it is one letter or two away from a
 * known one, which is a typo far more often than a new field.
 */
const OPEN_OBJECTS = new Set(['lead']);

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodDefault)
    current = current.unwrap() as z.ZodType;
  return current;
}

/**
 * Whether a route condition may read `segments` of a canonical event: a field
 * the canonical schema defines, anything under a free-form map (`metadata`,
 * `contact.attributes`; under `lead`, anything that is not a near miss of a
 * known field), or a field a source mapping of this configuration writes
 * (`extra`, dotted). Anything else is almost always a typo that would
 * make the route silently match nothing, so it is reported with the nearest
 * known field.
 *
 * @example
 * canonicalPathProblem(['escalation', 'priorty'], new Set()) // 'no field "escalation.priorty" …; did you mean "escalation.priority"?'
 * canonicalPathProblem(['metadata', 'plan'], new Set())      // undefined
 */
export function canonicalPathProblem(
  segments: readonly string[],
  extra: ReadonlySet<string>,
): string | undefined {
  const dotted = segments.join('.');
  for (const written of extra) if (dotted === written || dotted.startsWith(`${written}.`)) return undefined;
  let schema: z.ZodType = canonicalEventSchema;
  for (const [depth, segment] of segments.entries()) {
    const here = unwrap(schema);
    if (here instanceof z.ZodRecord || here instanceof z.ZodUnknown) return undefined;
    if (here instanceof z.ZodArray || here instanceof z.ZodString) {
      if (LIST_PROPERTIES.includes(segment)) return undefined;
      if (here instanceof z.ZodArray && /^\d+$/.test(segment)) {
        schema = here.element as z.ZodType;
        continue;
      }
    }
    if (here instanceof z.ZodObject) {
      const shape = here.shape as Record<string, z.ZodType>;
      const child = Object.hasOwn(shape, segment) ? shape[segment] : undefined;
      if (child) {
        schema = child;
        continue;
      }
      const parent = segments.slice(0, depth).join('.');
      const known = Object.keys(shape).map((key) => (parent ? `${parent}.${key}` : key));
      known.push(...extra);
      if (OPEN_OBJECTS.has(parent) && !didYouMean(dotted, known)) return undefined;
      return `no field "${dotted}" in the canonical event${didYouMeanSuffix(dotted, known) || `; ${parent ? `"${parent}" has` : 'the event has'} ${Object.keys(shape).join(', ')} (custom values go under metadata. or contact.attributes.)`}`;
    }
    return `"${segments.slice(0, depth).join('.')}" is a single value; it has no "${segment}"`;
  }
  return undefined;
}
