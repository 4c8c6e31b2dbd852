import type { Record as SfRecord } from 'jsforce';
import { PermanentError } from '../errors.ts';
import type { Target } from './item.ts';
import type { KnownRecord } from './known-records.ts';
import { ambiguous, dedupe, type Found, matches, sameId } from './matching.ts';
import type { EventPlan, MatchKey } from './plan.ts';
import type { RecordObject, SalesforceSettings } from './settings.ts';

/*
 * Which record an event lands on, from what one look-up call answered (the
 * known records read by Id, and the records with the event's email, phone
 * or external ID), following `match.order` (README.md, "Finding the
 * record"). Pure: the look-up and the writes are elsewhere.
 *
 * - A known record is one this connector delivered the same person to
 *   before (the identity map). Salesforce's query leaves deleted records
 *   out, so one that does not come back is gone: it is forgotten, and the
 *   next steps find or create the record instead — once, as the map then
 *   names the new record. A converted Lead is followed to its Contact, and
 *   the map is rewritten to the Contact.
 * - When the email names a different existing record than the known one,
 *   nothing is merged: the event goes to the record the email names, only
 *   the email's identity moves there, and the conflict is reported.
 * - A phone beside an email the event has only leads to a record that has
 *   no other email (found by the look-up or known by the map alone): a
 *   shared line is not the same person.
 */

/** A record returned by the look-up, with the object whose query returned it. */
export interface LookedUp {
  object: RecordObject;
  record: SfRecord;
}

/** The known record and the one the event went to instead, when an email or phone named another. */
export interface Conflict {
  /** The identifier that named the record used (`email:…`), undefined when the event's identifiers lack it. */
  identifier: string | undefined;
  known: Found;
  used: Found;
}

export interface Resolution {
  target?: Target;
  error?: PermanentError;
  conflict?: Conflict;
  /** Known records this one takes the place of (deleted, or a Lead converted into it): the map moves to it. */
  replaces: string[];
  /** Known records Salesforce no longer has. */
  gone: string[];
  /** The identifiers to map to the record, when not all of the event's (a conflict: only the one that named it). */
  identifiers?: string[];
}

type Step = 'known' | MatchKey['by'];

/**
 * Resolves one event's record from the look-up's answers.
 *
 * @example
 * resolveRecord(settings, plan, [{ object: 'Lead', record: { Id: '00Q…', Email: null, Phone: '+1…', IsConverted: false } }])
 * // { target: { object: 'Lead', id: '00Q…', write: 'update', existed: true, foundBy: 'known' }, replaces: [], gone: [] }
 */
export function resolveRecord(
  settings: SalesforceSettings,
  plan: EventPlan,
  answers: readonly LookedUp[],
): Resolution {
  const { alive, gone, converted } = readKnown(plan.known, answers);
  const knownHit = alive.find((record) => samePerson(plan, record));
  const found = (key: MatchKey) => foundBy(settings, plan, key, answers);
  const steps: Step[] =
    settings.match.by === 'external_id'
      ? [...settings.match.order.filter((step) => step === 'known'), 'external_id']
      : settings.match.order;
  const goneRefs = gone.map((known) => known.ref);

  let chosen: (Found & { via: Step }) | undefined;
  for (const step of steps) {
    if (step === 'known') {
      if (knownHit) chosen = { ...knownHit, via: 'known' };
    } else {
      const key = plan.lookFor.find((candidate) => candidate.by === step);
      if (!key) continue;
      const records = found(key);
      if (records.length > 1) return { error: ambiguous(key, records), replaces: [], gone: goneRefs };
      if (records.length === 1) chosen = { ...records[0]!, via: step };
    }
    if (chosen) break;
  }

  // The email names another record than the known one: deliver there, merge nothing.
  let conflict: Conflict | undefined;
  const emailKey = plan.lookFor.find((key) => key.by === 'email');
  if (chosen?.via === 'known' && emailKey) {
    const named = found(emailKey);
    if (named.length > 0 && !named.some((record) => sameId(record.id, chosen!.id))) {
      if (named.length > 1) return { error: ambiguous(emailKey, named), replaces: [], gone: goneRefs };
      conflict = { identifier: identifierOf(plan, 'email'), known: chosen, used: named[0]! };
      chosen = { ...named[0]!, via: 'email' };
    }
  } else if (chosen && knownHit && chosen.via !== 'known' && !sameId(chosen.id, knownHit.id)) {
    // An order that looks up the email or phone before the known record.
    conflict = { identifier: identifierOf(plan, chosen.via), known: knownHit, used: chosen };
  }

  if (!chosen) {
    if (plan.lookFor.length === 0)
      return {
        error: new PermanentError(
          `nothing to match on: ${gone.map((known) => `${known.object} ${known.id}`).join(', ')}, which ${
            gone.length === 1 ? 'this person' : 'this person’s identifiers'
          } resolved to before, ${gone.length === 1 ? 'is' : 'are'} no longer in Salesforce (deleted, or merged away), and the event has no email or phone to find or create another by`,
        ),
        replaces: [],
        gone: goneRefs,
      };
    return {
      target: {
        object: settings.object,
        existed: false,
        write: settings.match.by === 'external_id' ? 'upsert' : 'create',
      },
      replaces: goneRefs,
      gone: goneRefs,
    };
  }

  const target: Target = {
    object: chosen.object,
    id: chosen.id,
    existed: true,
    convertedFrom: chosen.convertedFrom,
    write:
      chosen.via === 'external_id' && chosen.object === settings.object && !chosen.convertedFrom
        ? 'upsert'
        : 'update',
    foundBy: chosen.via,
    keepEmail:
      chosen.via !== 'email' &&
      plan.email !== undefined &&
      Boolean(chosen.email) &&
      chosen.email!.toLowerCase() !== plan.email.toLowerCase(),
  };
  if (conflict) {
    const identifier = conflict.identifier;
    return { target, conflict, replaces: [], gone: goneRefs, identifiers: identifier ? [identifier] : [] };
  }
  const replaced = converted.filter((entry) => sameId(entry.contactId, chosen!.id)).map((entry) => entry.ref);
  return { target, replaces: [...goneRefs, ...replaced], gone: goneRefs };
}

/** The known records the look-up returned (converted Leads as their Contacts), and those it did not. */
function readKnown(known: readonly KnownRecord[], answers: readonly LookedUp[]) {
  const alive: (Found & { by: string[] })[] = [];
  const gone: KnownRecord[] = [];
  const converted: { ref: string; contactId: string }[] = [];
  for (const entry of known) {
    const hit = answers.find(
      (answer) => answer.object === entry.object && sameId(String(answer.record.Id ?? ''), entry.id),
    );
    const record = hit?.record;
    if (!record) gone.push(entry);
    else if (entry.object === 'Lead' && record.IsConverted === true) {
      // Converted without a Contact cannot happen through the UI or the API; take it as gone.
      if (!record.ConvertedContactId) gone.push(entry);
      else {
        alive.push({
          object: 'Contact',
          id: record.ConvertedContactId,
          convertedFrom: entry.id,
          email: emailOf(record),
          by: entry.identifiers,
        });
        converted.push({ ref: entry.ref, contactId: record.ConvertedContactId });
      }
    } else alive.push({ object: entry.object, id: entry.id, email: emailOf(record), by: entry.identifiers });
  }
  return { alive, gone, converted };
}

/**
 * Whether a known record is this event's person: known by the conversation,
 * the visitor or an email, yes; known only by the phone, as for a phone the
 * look-up finds, only when the record has no other email than the event's.
 */
function samePerson(plan: EventPlan, record: Found & { by: string[] }): boolean {
  if (record.by.some((identifier) => !identifier.startsWith('phone:'))) return true;
  return !plan.email || !record.email || record.email.toLowerCase() === plan.email.toLowerCase();
}

/** The records one key finds, converted Leads as their Contacts; by phone beside an email, only those without another email. */
function foundBy(
  settings: SalesforceSettings,
  plan: EventPlan,
  key: MatchKey,
  answers: readonly LookedUp[],
): Found[] {
  const records: Found[] = [];
  for (const { object, record } of answers) {
    if (key.by === 'external_id' && object !== settings.object) continue;
    if (!matches(record, key)) continue;
    if (record.IsConverted === true) {
      if (record.ConvertedContactId)
        records.push({
          object: 'Contact',
          id: record.ConvertedContactId,
          convertedFrom: record.Id,
          email: emailOf(record),
        });
    } else records.push({ object, id: record.Id!, email: emailOf(record) });
  }
  const distinct = dedupe(records);
  if (key.by !== 'phone' || plan.email === undefined) return distinct;
  const email = plan.email.toLowerCase();
  return distinct.filter((record) => !record.email || record.email.toLowerCase() === email);
}

function emailOf(record: SfRecord): string | undefined {
  return typeof record.Email === 'string' && record.Email !== '' ? record.Email : undefined;
}

/** The event's identifier of this kind (`email:dana@acme.example`), as the identity map keys it. */
function identifierOf(plan: EventPlan, kind: Step): string | undefined {
  return plan.context.identifiers?.find((identifier) => identifier.startsWith(`${kind}:`));
}
