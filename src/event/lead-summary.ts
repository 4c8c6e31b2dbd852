/** Who an event is about, as sales ops name a lead. */
export interface LeadSummary {
  /** The contact's name, else first and last name, else email, else phone; undefined when the event has none. */
  label: string | undefined;
  name: string | undefined;
  email: string | undefined;
  phone: string | undefined;
  company: string | undefined;
  jobTitle: string | undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * The lead of a canonical event's `contact` (any value: stored events are
 * read back as plain JSON).
 *
 * @example
 * leadSummary({ first_name: 'Dana', last_name: 'Reyes', email: 'dana@acme.example', company: 'Acme Corp' })
 * // → { label: 'Dana Reyes', name: 'Dana Reyes', email: 'dana@acme.example', company: 'Acme Corp', … }
 * leadSummary({ phone: '+1 415 555 0100' }).label // '+1 415 555 0100'
 */
export function leadSummary(contact: unknown): LeadSummary {
  const c = contact !== null && typeof contact === 'object' ? (contact as Record<string, unknown>) : {};
  const name = text(c.name) ?? text([text(c.first_name), text(c.last_name)].filter(Boolean).join(' '));
  const email = text(c.email);
  const phone = text(c.phone);
  return {
    label: name ?? email ?? phone,
    name,
    email,
    phone,
    company: text(c.company),
    jobTitle: text(c.job_title),
  };
}
