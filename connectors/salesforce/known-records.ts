import type { DeliveryContext } from '../types.ts';
import { RECORD_OBJECTS, type RecordObject } from './settings.ts';

/*
 * The identity map as this connector reads it. leadrelay remembers, per
 * connector, which record each of a person's identifiers (conversation,
 * visitor, email, phone) resolved to; the Salesforce connector writes those
 * records as `Lead:00Q…` or `Contact:003…` (the object and the 18-character
 * id), so a look-up by Id knows which object to ask.
 */

/** A record the event is known by: one reference, and which of the event's identifiers led to it. */
export interface KnownRecord {
  ref: string;
  object: RecordObject;
  id: string;
  identifiers: string[];
}

/**
 * The identity map's reference to a record.
 *
 * @example
 * recordRef('Lead', '00Q5g00000000001EAA') // 'Lead:00Q5g00000000001EAA'
 */
export function recordRef(object: RecordObject, id: string): string {
  return `${object}:${id}`;
}

/**
 * A reference read back, or undefined for one this connector did not write.
 *
 * @example
 * parseRecordRef('Contact:0035g00000000002EAA') // { object: 'Contact', id: '0035g00000000002EAA' }
 */
export function parseRecordRef(ref: string): { object: RecordObject; id: string } | undefined {
  const match = /^([A-Za-z]+):([a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?)$/.exec(ref);
  const object = RECORD_OBJECTS.find((name) => name === match?.[1]);
  return object && match ? { object, id: match[2]! } : undefined;
}

/**
 * The records the event's identifiers resolved to, most specific identifier
 * first (conversation, visitor, email, phone), each record once. `learnt`
 * holds what earlier rounds of the same batch resolved, which is newer than
 * the map the worker read.
 *
 * @example
 * knownRecords({ ...context, identifiers: ['conversation:bot:c1', 'phone:+14155550142'], known: { 'phone:+14155550142': 'Lead:00Q…' } })
 * // [{ ref: 'Lead:00Q…', object: 'Lead', id: '00Q…', identifiers: ['phone:+14155550142'] }]
 */
export function knownRecords(
  context: Pick<DeliveryContext, 'identifiers' | 'known'>,
  learnt: Readonly<Record<string, string>> = {},
): KnownRecord[] {
  const identifiers = context.identifiers ?? Object.keys(context.known ?? {});
  const byRef = new Map<string, KnownRecord>();
  for (const identifier of identifiers) {
    const ref = learnt[identifier] ?? context.known?.[identifier];
    const parsed = ref ? parseRecordRef(ref) : undefined;
    if (!ref || !parsed) continue;
    const entry = byRef.get(ref);
    if (entry) entry.identifiers.push(identifier);
    else byRef.set(ref, { ref, ...parsed, identifiers: [identifier] });
  }
  return [...byRef.values()];
}
