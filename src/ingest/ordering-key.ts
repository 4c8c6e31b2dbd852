/**
 * The key under which deliveries to one connector are kept in order: the
 * contact (email, else phone), else the conversation. Events without any of
 * these have no predecessor to wait for.
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
