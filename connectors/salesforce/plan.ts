import { unreadablePhoneHint } from '../../src/mapping/phone.ts';
import { renderFields } from '../../src/mapping/template.ts';
import { PermanentError } from '../errors.ts';
import type { DeliveryContext, PlannedRequest } from '../types.ts';
import type { SalesforceAuth } from './client.ts';
import { DESCRIPTION_LIMIT, type RecordObject, type SalesforceSettings, SUBJECT_LIMIT } from './settings.ts';
import { soqlEndsWith, soqlIn, soqlString } from './soql.ts';

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

/**
 * The requests one event causes, in order, with notes where a request
 * depends on an earlier answer. `{…}` stands for ids known only then.
 */
export function previewRequests(
  settings: SalesforceSettings,
  auth: SalesforceAuth,
  context: DeliveryContext,
): PlannedRequest[] {
  const plan = planEvent(settings, context);
  if (plan instanceof PermanentError)
    return [{ method: 'NONE', url: settings.instance_url, note: `nothing would be sent: ${plan.message}` }];
  const base = apiBase(settings);
  const headers = { Authorization: 'Bearer ••••••' };
  const json = { ...headers, 'content-type': 'application/json' };
  const object = settings.object;
  const requests: PlannedRequest[] = [];
  if (auth.needsToken || auth.canRenew) requests.push(auth.plannedTokenRequest());

  const match = plan.match;
  const lookup = (on: RecordObject, extra?: string): PlannedRequest => ({
    method: 'GET',
    url: queryUrl(settings, lookupSoql(on, lookupWhere([match]), extra)),
    headers,
    note:
      match.by === 'external_id'
        ? `finds the ${on} with ${match.field} = ${soqlString(match.value)}`
        : `finds ${on}s with this ${match.by === 'email' ? 'email' : 'phone number'}`,
  });
  if (match.by === 'external_id') {
    requests.push(lookup(object, match.field));
    const url = `${base}/sobjects/${object}/${match.field}/${encodeURIComponent(match.value)}`;
    const { [match.field]: _, ...createBody } = plan.createFields(object);
    const { [match.field]: __, ...updateBody } = plan.updateFields(object);
    requests.push({
      method: 'PATCH',
      url,
      headers: json,
      body: createBody,
      note: `upsert by ${match.field}, when the look-up found no ${object}: creates it`,
    });
    requests.push({
      method: 'PATCH',
      url,
      headers: json,
      body: updateBody,
      note: `upsert by ${match.field}, instead, when the look-up found one ${object}: updates it`,
    });
  } else {
    requests.push(lookup(object));
    if (object === 'Lead') requests.push(lookup('Contact'));
    requests.push({
      method: 'POST',
      url: `${base}/sobjects/${object}`,
      headers: json,
      body: plan.createFields(object),
      note:
        object === 'Lead'
          ? 'only if the look-ups found no Lead or Contact'
          : 'only if the look-up found no Contact',
    });
    if (object === 'Lead')
      requests.push({
        method: 'PATCH',
        url: `${base}/sobjects/Lead/{Lead.Id}`,
        headers: json,
        body: plan.updateFields('Lead'),
        note: 'instead, if they found one open Lead',
      });
  }
  if (object === 'Lead' || match.by !== 'external_id')
    requests.push({
      method: 'PATCH',
      url: `${base}/sobjects/Contact/{Contact.Id}`,
      headers: json,
      body: plan.updateFields('Contact'),
      note:
        match.by === 'external_id'
          ? 'instead, if the Lead it found was converted: its Contact (ConvertedContactId)'
          : object === 'Lead'
            ? 'instead, if they found one Contact, or a converted Lead (its ConvertedContactId)'
            : 'instead, if it found one Contact',
    });
  if (plan.task) {
    const task: Record<string, string> = { ...plan.task.fields, WhoId: '{Id of the Lead or Contact}' };
    const externalIdField = settings.task.external_id_field;
    if (externalIdField) {
      const { [externalIdField]: _, ...body } = task;
      requests.push({
        method: 'PATCH',
        url: `${base}/sobjects/Task/${externalIdField}/${encodeURIComponent(context.eventId)}`,
        headers: json,
        body,
        note: `upsert by ${externalIdField} = the event id: one Task per event, however often this runs`,
      });
    } else {
      requests.push({
        method: 'GET',
        url: queryUrl(
          settings,
          taskLookupSoql([{ whoId: '{Id of the Lead or Contact}', marker: plan.task.marker! }]),
        ),
        headers,
        note: 'only when the record existed before: finds the Task an earlier attempt created',
      });
      requests.push({
        method: 'POST',
        url: `${base}/sobjects/Task`,
        headers: json,
        body: task,
        note: 'unless that look-up found it',
      });
    }
  }
  return requests;
}
