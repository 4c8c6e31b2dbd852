import { unreadablePhoneHint } from '../../src/mapping/phone.ts';
import { renderFields } from '../../src/mapping/template.ts';
import { PermanentError } from '../errors.ts';
import type { DeliveryContext } from '../types.ts';
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
  match: MatchKey;
  /** Two events with the same key are never written in one call. */
  key: string;
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
 * nothing to match on.
 */
export function planEvent(
  settings: SalesforceSettings,
  context: DeliveryContext,
): EventPlan | PermanentError {
  const event = context.event;
  let match: MatchKey;
  if (settings.match.by === 'external_id') {
    const value = settings.match.external_id.render(event);
    if (!value)
      return new PermanentError(
        `nothing to match on: match.external_id ("${settings.match.external_id.source}") is empty for this event`,
      );
    // The value becomes a path segment (PATCH …/sobjects/Lead/Field__c/VALUE): "." and ".."
    // survive URL encoding and would address another resource.
    if (/^\.+$/.test(value))
      return new PermanentError(
        `match.external_id rendered "${value}" for this event, which cannot be a Salesforce external ID (it would change the request's path)`,
      );
    match = { by: 'external_id', field: settings.match.external_id_field!, value };
  } else {
    const email = settings.match.email.render(event);
    const phone = email ? undefined : settings.match.phone.render(event);
    if (email) match = { by: 'email', value: email };
    else if (phone) match = { by: 'phone', value: phone };
    else {
      const written = (event.contact as { phone?: unknown } | undefined)?.phone;
      return new PermanentError(
        typeof written === 'string' && written.trim()
          ? `nothing to match on: the event has no email, and its phone "${written}" cannot be read as an international number: ${unreadablePhoneHint()}`
          : 'nothing to match on: the event has neither an email nor a phone number',
      );
    }
  }
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
    if (match.by === 'external_id') fields[match.field] ??= match.value;
    const source = settings.lead_source.render(event);
    if (source && fields.LeadSource === undefined) fields.LeadSource = source;
    fields.LastName ??= settings.placeholders.LastName;
    if (object === 'Lead') fields.Company ??= settings.placeholders.Company;
    return fields;
  };
  return {
    context,
    match,
    key: match.by === 'external_id' ? `ext:${match.value}` : `${match.by}:${match.value.toLowerCase()}`,
    updateFields,
    createFields,
    task: settings.task.enabled ? planTask(settings, context) : undefined,
  };
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

/** `Email IN (…) OR Phone IN (…)` for a group of email/phone keys, or `Field IN (…)` for external IDs. */
export function lookupWhere(keys: MatchKey[]): string {
  const emails = unique(keys.filter((k) => k.by === 'email').map((k) => k.value));
  const phones = unique(keys.filter((k) => k.by === 'phone').map((k) => k.value));
  const external = keys.filter((k) => k.by === 'external_id');
  if (external.length > 0) return soqlIn(external[0]!.field, unique(external.map((k) => k.value)));
  const parts: string[] = [];
  if (emails.length > 0) parts.push(soqlIn('Email', emails));
  if (phones.length > 0) parts.push(soqlIn('Phone', phones));
  return parts.join(' OR ');
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
  target: { write: 'create' | 'update' | 'upsert'; object: RecordObject; existed: boolean },
  id: string | undefined,
): WriteRequest | undefined {
  const { write, object } = target;
  if (write === 'create')
    return { method: 'POST', path: `/sobjects/${object}`, body: plan.createFields(object) };
  if (write === 'update') {
    const body = plan.updateFields(object);
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
