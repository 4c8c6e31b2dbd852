import { unreadablePhoneHint } from '../../src/mapping/phone.ts';
import { renderFields } from '../../src/mapping/template.ts';
import { PermanentError } from '../errors.ts';
import type { DeliveryContext } from '../types.ts';
import { type KnownRecord, knownRecords } from './known-records.ts';
import { DESCRIPTION_LIMIT, type RecordObject, type SalesforceSettings, SUBJECT_LIMIT } from './settings.ts';
import { soqlEndsWith, soqlIn } from './soql.ts';

/** How an event finds its record. */
export type MatchKey =
  | { by: 'email'; value: string }
  | { by: 'phone'; value: string }
  | { by: 'external_id'; field: string; value: string };

/** One event, rendered: what to look for, what to write, which Task to record. */
export interface EventPlan {
  context: DeliveryContext;
  /** What the look-up asks Salesforce for, in `match.order`: email and phone, or the external ID. */
  lookFor: MatchKey[];
  /**
   * The first of them: the upsert's key and the one messages name. Undefined when
   * the event has none and only a record it is known by can take it.
   */
  match: MatchKey | undefined;
  /** The event's email as the look-up uses it (a record found otherwise keeps a different one). */
  email: string | undefined;
  /**
   * Two events sharing a strong key are never written in one round (same person);
   * a weak key (a phone beside an email) only keeps apart from an event whose strong key it is.
   */
  keys: { strong: string[]; weak: string[] };
  /** The records this connector resolved the event's identifiers to before, most specific first. */
  known: KnownRecord[];
  /** Fields written to an existing record of this object. */
  updateFields(object: RecordObject): Record<string, string>;
  /** Fields of a new record: the update fields, LeadSource, and placeholders for empty required fields. */
  createFields(object: RecordObject): Record<string, string>;
  task: TaskPlan | undefined;
}

export interface TaskPlan {
  /** Subject (with the event marker unless an external ID is used), Description, Status, extra fields. */
  fields: Record<string, string>;
  /** The Subject ends with this when no Task external ID field is configured. */
  marker: string | undefined;
}

/** The Subject suffix that lets a later attempt find this event's Task. */
export function taskMarker(eventId: string): string {
  return ` [leadrelay ${eventId}]`;
}

/**
 * Renders one event for this connector, or a PermanentError when there is
 * nothing to match on (no email or phone to look up, and no record the
 * event is known by).
 *
 * @example
 * planEvent(settings, context).lookFor // [{ by: 'email', value: 'dana@acme.example' }, { by: 'phone', value: '+14155550142' }]
 */
export function planEvent(
  settings: SalesforceSettings,
  context: DeliveryContext,
): EventPlan | PermanentError {
  const event = context.event;
  const order = settings.match.order;
  const known = order.includes('known') ? knownRecords(context) : [];
  const lookFor: MatchKey[] = [];
  let email: string | undefined;
  if (settings.match.by === 'external_id') {
    const value = settings.match.external_id.render(event);
    // The value becomes a path segment (PATCH …/sobjects/Lead/Field__c/VALUE): "." and ".."
    // survive URL encoding and would address another resource.
    if (value && /^\.+$/.test(value))
      return new PermanentError(
        `match.external_id rendered "${value}" for this event, which cannot be a Salesforce external ID (it would change the request's path)`,
      );
    if (value) lookFor.push({ by: 'external_id', field: settings.match.external_id_field!, value });
    else if (known.length === 0)
      return new PermanentError(
        `nothing to match on: match.external_id ("${settings.match.external_id.source}") is empty for this event`,
      );
  } else {
    email = settings.match.email.render(event) || undefined;
    const phone = settings.match.phone.render(event) || undefined;
    for (const step of order) {
      if (step === 'email' && email) lookFor.push({ by: 'email', value: email });
      if (step === 'phone' && phone) lookFor.push({ by: 'phone', value: phone });
    }
    if (lookFor.length === 0 && known.length === 0) return nothingToMatchOn(settings, event);
  }
  const match = lookFor[0];
  const memo = new Map<RecordObject, Record<string, string>>();
  const updateFields = (object: RecordObject) => {
    let fields = memo.get(object);
    if (!fields) {
      fields = renderFields(settings.fields[object], event);
      memo.set(object, fields);
    }
    return { ...fields };
  };
  const createFields = (object: RecordObject) => {
    const fields = updateFields(object);
    if (match?.by === 'external_id') fields[match.field] ??= match.value;
    const source = settings.lead_source.render(event);
    if (source && fields.LeadSource === undefined) fields.LeadSource = source;
    fields.LastName ??= settings.placeholders.LastName;
    if (object === 'Lead') fields.Company ??= settings.placeholders.Company;
    return fields;
  };
  return {
    context,
    lookFor,
    match,
    email,
    keys: roundKeys(lookFor, context.identifiers ?? []),
    known,
    updateFields,
    createFields,
    task: settings.task.enabled ? planTask(settings, context) : undefined,
  };
}

/** Why an event without email or phone (and known by no record) cannot be delivered. */
function nothingToMatchOn(settings: SalesforceSettings, event: Readonly<Record<string, unknown>>) {
  const order = settings.match.order;
  const written = (event.contact as { phone?: unknown } | undefined)?.phone;
  const unreadable = typeof written === 'string' && written.trim() !== '';
  if (order.includes('email') && order.includes('phone'))
    return new PermanentError(
      unreadable
        ? `nothing to match on: the event has no email, and its phone "${written}" cannot be read as an international number: ${unreadablePhoneHint()}`
        : 'nothing to match on: the event has neither an email nor a phone number',
    );
  const looks = order.filter((step) => step !== 'known');
  return new PermanentError(
    `nothing to match on: match.order is [${order.join(', ')}], and the event has no ${
      looks.length > 0 ? looks.join(' or ') : 'identifier'
    } ${looks.length > 0 ? 'to look up' : 'that resolved to a record before'}`,
  );
}

/** An email, an external ID, a phone alone, a conversation or visitor id: one person. A phone beside an email: maybe. */
function roundKeys(lookFor: MatchKey[], identifiers: readonly string[]): EventPlan['keys'] {
  const strong: string[] = [];
  const weak: string[] = [];
  for (const [index, key] of lookFor.entries()) {
    const text = key.by === 'external_id' ? `ext:${key.value}` : `${key.by}:${key.value.toLowerCase()}`;
    if (key.by === 'phone' && lookFor.some((other, i) => i !== index && other.by !== 'phone'))
      weak.push(text);
    else strong.push(text);
  }
  for (const identifier of identifiers)
    if (identifier.startsWith('conversation:') || identifier.startsWith('visitor:')) strong.push(identifier);
  return { strong, weak };
}

/**
 * The fields written to the record an event landed on: the create fields for
 * a new one; else the update fields, without Email when the record keeps an
 * email of its own (README.md, "Finding the record").
 *
 * @example
 * fieldsFor(plan, { object: 'Lead', existed: true, keepEmail: true }) // { FirstName: 'Dana', Phone: '+1…' }
 */
export function fieldsFor(
  plan: EventPlan,
  target: { object: RecordObject; existed: boolean; keepEmail?: boolean | undefined },
): Record<string, string> {
  if (!target.existed) return plan.createFields(target.object);
  const fields = plan.updateFields(target.object);
  if (target.keepEmail) delete fields.Email;
  return fields;
}

function planTask(settings: SalesforceSettings, context: DeliveryContext): TaskPlan {
  const task = settings.task;
  const fields = renderFields(task.fields, context.event);
  const subject = task.subject.render(context.event) ?? 'Chatbot conversation';
  const marker = task.external_id_field ? undefined : taskMarker(context.eventId);
  fields.Subject = marker
    ? subject.slice(0, SUBJECT_LIMIT - marker.length) + marker
    : subject.slice(0, SUBJECT_LIMIT);
  const description = task.description.render(context.event);
  if (description)
    fields.Description =
      description.length > DESCRIPTION_LIMIT
        ? `${description.slice(0, DESCRIPTION_LIMIT - 1)}…`
        : description;
  fields.Status = task.status;
  if (task.external_id_field) fields[task.external_id_field] = context.eventId;
  return { fields, marker };
}

/* ------------------------------------------------------------------ */
/* Requests, built the same way for delivery and for preview.         */

export function apiBase(settings: SalesforceSettings): string {
  return `${settings.instance_url}/services/data/v${settings.api_version}`;
}

export function queryUrl(settings: SalesforceSettings, soql: string): string {
  return `${apiBase(settings)}/query?q=${encodeURIComponent(soql)}`;
}

/**
 * The objects a record look-up reads: Lead and Contact for a Lead by email or phone, else the one object.
 *
 * @example
 * lookupObjects(settings) // ['Lead', 'Contact'] with the defaults
 */
export function lookupObjects(settings: SalesforceSettings): RecordObject[] {
  return settings.object === 'Lead' && settings.match.by !== 'external_id'
    ? ['Lead', 'Contact']
    : [settings.object];
}

/** The fields the record look-up reads. */
export function lookupSoql(object: RecordObject, where: string, extraField?: string): string {
  const fields = ['Id', 'Email', 'Phone'];
  if (object === 'Lead') fields.push('IsConverted', 'ConvertedContactId');
  if (extraField && !fields.includes(extraField)) fields.push(extraField);
  return `SELECT ${fields.join(', ')} FROM ${object} WHERE ${where}`;
}

/**
 * `Id IN (…) OR Email IN (…) OR Phone IN (…)` for a group of keys and known
 * record ids, or `Field IN (…)` for external IDs; undefined when there is nothing to ask.
 *
 * @example
 * lookupWhere([{ by: 'email', value: 'a@x.example' }], ['00Q5g…']) // "Id = '00Q5g…' OR Email = 'a@x.example'"
 */
export function lookupWhere(keys: MatchKey[], ids: readonly string[] = []): string | undefined {
  const emails = unique(keys.filter((k) => k.by === 'email').map((k) => k.value));
  const phones = unique(keys.filter((k) => k.by === 'phone').map((k) => k.value));
  const external = keys.filter((k) => k.by === 'external_id');
  const parts: string[] = [];
  if (ids.length > 0) parts.push(soqlIn('Id', unique([...ids])));
  if (external.length > 0) parts.push(soqlIn(external[0]!.field, unique(external.map((k) => k.value))));
  if (emails.length > 0) parts.push(soqlIn('Email', emails));
  if (phones.length > 0) parts.push(soqlIn('Phone', phones));
  return parts.length > 0 ? parts.join(' OR ') : undefined;
}

/** Tasks of earlier attempts: on these records, with these events' markers. */
export function taskLookupSoql(entries: { whoId: string; marker: string }[]): string {
  const whoIds = unique(entries.map((entry) => entry.whoId));
  const markers = unique(entries.map((entry) => entry.marker));
  const subject = markers.map((marker) => `Subject LIKE ${soqlEndsWith(marker)}`);
  return `SELECT Id, WhoId, Subject FROM Task WHERE ${soqlIn('WhoId', whoIds)} AND ${
    subject.length === 1 ? subject[0] : `(${subject.join(' OR ')})`
  }`;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** One write as a REST request: a single call, or a subrequest of a composite call. */
export interface WriteRequest {
  method: 'POST' | 'PATCH';
  /** From the API version root: `/sobjects/Lead`. */
  path: string;
  body: Record<string, string>;
}

/**
 * The write of an event's record: POST to create, PATCH by Id to update
 * (only the fields that rendered: undefined when none did), PATCH by the
 * external ID to upsert (the value URL-encoded in the path, not the body).
 *
 * @example
 * recordWrite(plan, { write: 'update', object: 'Lead', existed: true }, '00Q5g…')
 * // { method: 'PATCH', path: '/sobjects/Lead/00Q5g…', body: { FirstName: 'Dana', … } }
 */
export function recordWrite(
  plan: EventPlan,
  target: {
    write: 'create' | 'update' | 'upsert';
    object: RecordObject;
    existed: boolean;
    keepEmail?: boolean | undefined;
  },
  id: string | undefined,
): WriteRequest | undefined {
  const { write, object } = target;
  if (write === 'create')
    return { method: 'POST', path: `/sobjects/${object}`, body: plan.createFields(object) };
  if (write === 'update') {
    const body = fieldsFor(plan, target);
    return Object.keys(body).length > 0
      ? { method: 'PATCH', path: `/sobjects/${object}/${id}`, body }
      : undefined;
  }
  const match = plan.match as Extract<MatchKey, { by: 'external_id' }>;
  const { [match.field]: _, ...body } = target.existed
    ? plan.updateFields(object)
    : plan.createFields(object);
  return {
    method: 'PATCH',
    path: `/sobjects/${object}/${match.field}/${encodeURIComponent(match.value)}`,
    body,
  };
}

/**
 * The transcript Task on the record `whoId` (an id, or a composite
 * reference such as `@{record.id}`): created, or upserted by the event id
 * when `task.external_id_field` is set.
 *
 * @example
 * taskWrite(settings, plan, '@{record.id}') // { method: 'POST', path: '/sobjects/Task', body: { Subject: '… [leadrelay ev_…]', WhoId: '@{record.id}', … } }
 */
export function taskWrite(settings: SalesforceSettings, plan: EventPlan, whoId: string): WriteRequest {
  const field = settings.task.external_id_field;
  const fields: Record<string, string> = { ...plan.task!.fields, WhoId: whoId };
  if (!field) return { method: 'POST', path: '/sobjects/Task', body: fields };
  const { [field]: _, ...body } = fields;
  return {
    method: 'PATCH',
    path: `/sobjects/Task/${field}/${encodeURIComponent(plan.context.eventId)}`,
    body,
  };
}
