/**
 * The ordering key of one person (docs/identity.md, "Ordering"): deliveries to
 * one connector are kept in order per key, so every event of one person must
 * get the same key even when one carries only a phone and the next only an
 * email. At ingest, inside the write's transaction, the event's identifiers
 * are looked up in `people`; the first one already known (most specific
 * first: conversation, visitor, email, phone) gives the person's key, else
 * the event's first identifier becomes a new person's key. Every identifier
 * not yet known is then linked to that key — never re-pointed, so a key does
 * not change under deliveries already queued with it.
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
  for (const identifier of identifiers) {
    const found = known(identifier);
    if (found === undefined) link.push(identifier);
    else person ??= found;
  }
  return { person: person ?? (identifiers[0] as string), link };
}
