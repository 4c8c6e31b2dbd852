import { matchablePhone } from '../mapping/phone.ts';

/**
 * The identifiers one event gives of a person, most specific first — the
 * order in which the identity map is consulted (docs/identity.md):
 *
 * - `conversation:SOURCE:ID` — the chat itself: every event of one conversation is one person;
 * - `visitor:SOURCE:ID` — the platform's own id for the visitor (`contact.id`);
 * - `email:ADDRESS` — lower-cased;
 * - `phone:+E164` — only a number that can be read as E.164, the one spelling a record is matched on.
 *
 * Conversation and visitor ids are scoped by source: two platforms may both
 * have a conversation 42. Emails and phones are not: they name the person
 * whichever platform they came through.
 *
 * @example
 * identifiersOf('website-bot', { conversation: { id: 'c1' }, contact: { email: 'Dana@Acme.example', phone: '+1 415 555 0142' } })
 * // ['conversation:website-bot:c1', 'email:dana@acme.example', 'phone:+14155550142']
 */
export function identifiersOf(source: string, event: Readonly<Record<string, unknown>>): string[] {
  const contact = asRecord(event.contact);
  const conversation = asRecord(event.conversation);
  const found: string[] = [];
  const conversationId = idText(conversation.id);
  if (conversationId) found.push(`conversation:${source}:${conversationId}`);
  const visitorId = idText(contact.id);
  if (visitorId) found.push(`visitor:${source}:${visitorId}`);
  const email = typeof contact.email === 'string' ? contact.email.trim().toLowerCase() : '';
  if (email) found.push(`email:${email}`);
  const phone = typeof contact.phone === 'string' ? matchablePhone(contact.phone) : undefined;
  if (phone) found.push(`phone:${phone}`);
  return found;
}

/** What kind of identifier a key is: `conversation`, `visitor`, `email` or `phone`. */
export type IdentifierKind = 'conversation' | 'visitor' | 'email' | 'phone';

export function kindOf(identifier: string): IdentifierKind {
  return identifier.slice(0, identifier.indexOf(':')) as IdentifierKind;
}

function idText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}
