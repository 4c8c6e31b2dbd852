/**
 * The ordering key of an event that names no person the identity module can
 * read (src/identity/identifiers.ts): the store normally keys deliveries by
 * the person an event's identifiers link to (src/identity/person-key.ts);
 * this is what it falls back to. Events without any of these have no
 * predecessor to wait for.
 */
export function orderingKey(event: {
  contact?: { email?: string | undefined; phone?: string | undefined } | undefined;
  conversation?: { id?: string | undefined } | undefined;
}): string | null {
  const email = event.contact?.email?.trim().toLowerCase();
  if (email) return `email:${email}`;
  const phone = event.contact?.phone?.replace(/[^\d+]/g, '');
  if (phone) return `phone:${phone}`;
  const conversation = event.conversation?.id;
  if (conversation) return `conversation:${conversation}`;
  return null;
}
