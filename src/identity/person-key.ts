/**
 * The ordering key of one person (docs/identity.md, "Ordering"): deliveries to
 * one connector are kept in order per key, so every event of one person must
 * get the same key even when one carries only a phone and the next only an
 * email. At ingest, inside the write's transaction, the event's identifiers
 * are looked up in `people`; the first one already known (most specific
 * first: conversation, visitor, email, phone) gives the person's key, else
 * the event's first identifier becomes a new person's key (a phone is only
 * looked up when the event has no email). Every identifier not yet known is
 * then linked to that key — never re-pointed, so a key does not change under
 * deliveries already queued with it.
 *
 * @example
 * choosePerson(['conversation:bot:c1', 'email:dana@acme.example'], (id) => (id === 'conversation:bot:c1' ? 'phone:+14155550142' : undefined))
 * // { person: 'phone:+14155550142', link: ['email:dana@acme.example'] }
 */
export function choosePerson(
  identifiers: readonly string[],
  known: (identifier: string) => string | undefined,
): { person: string; link: string[] } | undefined {
  if (identifiers.length === 0) return undefined;
  let person: string | undefined;
  const link: string[] = [];
  // A phone is shared far more often than an email (a switchboard, a bot's example
  // number): with an email in hand it does not decide who the person is, or every lead
  // giving the office number would queue behind one another. It is still linked when new.
  const hasEmail = identifiers.some((identifier) => identifier.startsWith('email:'));
  for (const identifier of identifiers) {
    const found = known(identifier);
    if (found === undefined) link.push(identifier);
    else if (!(hasEmail && identifier.startsWith('phone:'))) person ??= found;
  }
  return { person: person ?? (identifiers[0] as string), link };
}
