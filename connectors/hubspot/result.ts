import type { DeliveryResult } from '../types.ts';
import type { Planned } from './plan.ts';

/** The contact one event goes to, and what its result must say about how it was found. */
export interface Target {
  id: string;
  created: boolean;
  /** The step that found it (`created` when none did). */
  by: 'known' | 'email' | 'phone' | 'created';
  /** The identity map's contact HubSpot no longer has under that id, and why. */
  replaced?: { record: string; why: 'merged' | 'deleted' };
  /** The known contact, when the lead's email is on another one: delivered there, nothing merged. */
  conflictWith?: string;
  /** The contact's own email, when it had another than the lead's: kept; the lead's goes in the note. */
  keptEmail?: string;
  /** Contacts the lead's phone is on that it did not go to: upserted by its email instead. */
  phoneSkipped?: PhoneSkipped;
}

/**
 * A phone search for a lead whose email no contact held found contacts it cannot be: one with
 * another email (two people can share a phone), or several.
 */
export interface PhoneSkipped {
  phone: string;
  contacts: string[];
  because: 'other_email' | 'several';
}

/**
 * The delivery's result: what was written, how the contact was found (`matched`), a
 * merged or deleted contact it replaced, a conflict with both records' links, and what
 * the identity map learns (`identity`).
 *
 * @example
 * result(p, { id: '102', created: false, by: 'email', conflictWith: '101' }, '2002', false, '62515001', link).data.conflict
 * // { identifier: 'email:dana@acme.example', known: 'contact:101', used: 'contact:102', links: [ … ] }
 */
export function result(
  p: Planned,
  target: Target,
  noteId: string,
  noteExisted: boolean,
  portal: string | undefined,
  link: (id: string) => string | undefined,
): DeliveryResult {
  const url = link(target.id);
  const how = {
    known: ' (known from an earlier event)',
    email: ' (by email)',
    phone: ' (found by phone)',
    created: '',
  }[target.by];
  const replaced = target.replaced
    ? `; contact ${target.replaced.record.slice('contact:'.length)} was ${target.replaced.why === 'merged' ? 'merged into it' : 'deleted in HubSpot'}`
    : '';
  const kept = target.keptEmail ? `; it keeps its email ${target.keptEmail}, ${p.email} is in the note` : '';
  const skipped = target.phoneSkipped;
  const phoneText = !skipped
    ? ''
    : skipped.because === 'other_email'
      ? `; phone ${skipped.phone} is on contact ${skipped.contacts[0]}, which has another email — not merged (two people can share a phone)`
      : `; phone ${skipped.phone} is on contacts ${skipped.contacts.join(', ')} — not matched by phone (merge them in HubSpot if they are one person)`;
  let conflict: Record<string, unknown> | undefined;
  let conflictText = '';
  if (target.conflictWith) {
    const links = [
      {
        label: `Contact ${target.conflictWith} (earlier events of this person)`,
        url: link(target.conflictWith),
      },
      { label: `Contact ${target.id} (holds ${p.email})`, url },
    ].filter((entry): entry is { label: string; url: string } => entry.url !== undefined);
    conflict = {
      identifier: emailIdentifier(p),
      known: `contact:${target.conflictWith}`,
      used: `contact:${target.id}`,
      links,
    };
    conflictText = `; conflict: ${p.email} is on contact ${target.id}, but earlier events of this person went to contact ${target.conflictWith} — delivered to ${target.id}, nothing merged (merge them in HubSpot if they are one person)`;
  }
  return {
    summary: `contact ${target.id} ${target.created ? 'created' : 'updated'}${how}, note ${noteId} ${noteExisted ? 'already there' : 'created'}${replaced}${kept}${phoneText}${conflictText}`,
    data: {
      contact_id: target.id,
      note_id: noteId,
      created: target.created,
      matched: target.by,
      ...(target.replaced ? { replaced: target.replaced.record, replaced_because: target.replaced.why } : {}),
      ...(conflict ? { conflict } : {}),
      ...(skipped ? { phone_not_matched: skipped } : {}),
      ...(portal ? { portal_id: portal } : {}),
      ...(url ? { url, links: [{ label: 'Open in HubSpot', url }] } : {}),
    },
    identity: {
      record: `contact:${target.id}`,
      // On a conflict only the email is the email's contact's; the rest keep the known one.
      ...(target.conflictWith ? { identifiers: [emailIdentifier(p)] } : {}),
      ...(target.replaced ? { replaces: [target.replaced.record] } : {}),
    },
  };
}

/** The email as the identity map spells it (lower-cased, trimmed: src/identity/identifiers.ts). */
function emailIdentifier(p: Planned): string {
  return p.context.identifiers?.find((identifier) => identifier.startsWith('email:')) ?? `email:${p.email}`;
}
