import { PermanentError } from '../errors.ts';
import type { DeliveryContext, PlannedRequest } from '../types.ts';
import type { SalesforceAuth } from './client.ts';
import { compositeBody, reference, type Subrequest, subrequestUrl } from './composite.ts';
import {
  apiBase,
  type EventPlan,
  lookupObjects,
  lookupSoql,
  lookupWhere,
  planEvent,
  queryUrl,
  recordWrite,
  taskLookupSoql,
  taskWrite,
  type WriteRequest,
} from './plan.ts';
import { RECORD_OBJECTS, type RecordObject, type SalesforceSettings } from './settings.ts';
import { soqlString } from './soql.ts';

/** One way the event may land, known only from the look-ups' answers. */
interface Outcome {
  write: 'create' | 'update' | 'upsert';
  object: RecordObject;
  existed: boolean;
  /** A placeholder for the id the look-up finds (`{Lead.Id}`), none for a new record. */
  id?: string;
  note: string;
}

/**
 * The requests one event causes, in order, with notes where a request
 * depends on an earlier answer: the same builders as the delivery, so
 * preview shows exactly what would be sent. `{Lead.Id}` stands for an id
 * known only then; `@{record.id}` is Salesforce's own composite reference.
 *
 * @example
 * previewRequests(settings, auth, context).map((r) => `${r.method} ${r.url}`)
 * // ['POST …/oauth2/token', 'POST …/composite', 'GET …/query?q=…Task…', 'POST …/composite', …]
 */
export function previewRequests(
  settings: SalesforceSettings,
  auth: SalesforceAuth,
  context: DeliveryContext,
): PlannedRequest[] {
  const plan = planEvent(settings, context);
  if (plan instanceof PermanentError)
    return [{ method: 'NONE', url: settings.instance_url, note: `nothing would be sent: ${plan.message}` }];
  const requests: PlannedRequest[] = [];
  if (auth.needsToken || auth.canRenew) requests.push(auth.plannedTokenRequest());
  requests.push(lookups(settings, plan));
  if (plan.task?.marker)
    requests.push({
      method: 'GET',
      url: queryUrl(
        settings,
        taskLookupSoql([{ whoId: '{Id of the Lead or Contact}', marker: plan.task.marker }]),
      ),
      headers: HEADERS,
      note: 'only on a retry, and only when the record existed before: finds the Task an earlier attempt created; if it is there, that attempt wrote the record with it and nothing more is sent',
    });
  for (const outcome of outcomes(settings, plan)) {
    const record = recordWrite(plan, outcome, outcome.id);
    const task = plan.task ? taskWrite(settings, plan, outcome.id ?? reference('record')) : undefined;
    if (record && task)
      requests.push({
        method: 'POST',
        url: `${apiBase(settings)}/composite`,
        headers: JSON_HEADERS,
        body: compositeBody(true, [
          subrequest(settings, record, 'record'),
          subrequest(settings, task, 'task'),
        ]),
        note: `${outcome.note}: the ${outcome.object} and its Task in one call (one API request), written together or not at all`,
      });
    else if (record) requests.push(single(settings, record, outcome.note));
    else if (task)
      requests.push(
        single(settings, task, `${outcome.note}: no field rendered, so only the Task is written`),
      );
  }
  return requests;
}

const HEADERS = { Authorization: 'Bearer ••••••' };
const JSON_HEADERS = { ...HEADERS, 'content-type': 'application/json' };

/** The record look-ups: one query, or Lead and Contact together in one composite call. */
function lookups(settings: SalesforceSettings, plan: EventPlan): PlannedRequest {
  const external = plan.match?.by === 'external_id' ? plan.match : undefined;
  const objects = RECORD_OBJECTS.filter(
    (on) =>
      (plan.lookFor.length > 0 && lookupObjects(settings).includes(on)) ||
      plan.known.some((known) => known.object === on),
  );
  const soqlOf = (on: RecordObject) =>
    lookupSoql(
      on,
      lookupWhere(
        lookupObjects(settings).includes(on) ? plan.lookFor : [],
        plan.known.filter((known) => known.object === on).map((known) => known.id),
      )!,
      on === settings.object ? external?.field : undefined,
    );
  const asked = plan.lookFor.map((key) =>
    key.by === 'external_id'
      ? `with ${key.field} = ${soqlString(key.value)}`
      : `with this ${key.by === 'email' ? 'email' : 'phone number'}`,
  );
  if (plan.known.length > 0)
    asked.unshift(
      `${plan.known.map((known) => `${known.object} ${known.id}`).join(', ')} (known from earlier deliveries to this person) by Id`,
    );
  const what = asked.join(', and those ');
  if (objects.length === 1)
    return {
      method: 'GET',
      url: queryUrl(settings, soqlOf(objects[0]!)),
      headers: HEADERS,
      note: `finds ${objects[0]}s ${what}`,
    };
  return {
    method: 'POST',
    url: `${apiBase(settings)}/composite`,
    headers: JSON_HEADERS,
    body: compositeBody(
      false,
      objects.map((on, i) => ({
        method: 'GET',
        url: subrequestUrl(settings, `/query?q=${encodeURIComponent(soqlOf(on))}`),
        referenceId: `query${i}`,
      })),
    ),
    note: `finds ${objects.map((on) => `${on}s`).join(' and ')} ${what}, in one call (one API request)`,
  };
}

/** Where the event may land, with the note that says when. */
function outcomes(settings: SalesforceSettings, plan: EventPlan): Outcome[] {
  const object = settings.object;
  const list: Outcome[] = [];
  for (const known of plan.known)
    list.push({
      write: 'update',
      object: known.object,
      existed: true,
      id: known.id,
      note: `instead, when ${known.object} ${known.id} is still there${
        known.object === 'Lead' ? ' and open (converted: its Contact)' : ''
      } and the email names no other record`,
    });
  // Without an email, phone or external ID only a known record can take the event.
  if (plan.lookFor.length === 0) return list;
  if (plan.match?.by === 'external_id') {
    const field = plan.match.field;
    list.push(
      {
        write: 'upsert',
        object,
        existed: false,
        note: `upsert by ${field}, when the look-up found no ${object}: creates it`,
      },
      {
        write: 'upsert',
        object,
        existed: true,
        id: `{${object}.Id}`,
        note: `upsert by ${field}, instead, when the look-up found one ${object}: updates it`,
      },
    );
    if (object === 'Lead')
      list.push({
        write: 'update',
        object: 'Contact',
        existed: true,
        id: '{Contact.Id}',
        note: 'instead, if the Lead it found was converted: its Contact (ConvertedContactId)',
      });
    return list;
  }
  list.push({
    write: 'create',
    object,
    existed: false,
    note:
      object === 'Lead'
        ? 'only if the look-ups found no Lead or Contact'
        : 'only if the look-up found no Contact',
  });
  if (object === 'Lead')
    list.push({
      write: 'update',
      object: 'Lead',
      existed: true,
      id: '{Lead.Id}',
      note: 'instead, if they found one open Lead',
    });
  list.push({
    write: 'update',
    object: 'Contact',
    existed: true,
    id: '{Contact.Id}',
    note:
      object === 'Lead'
        ? 'instead, if they found one Contact, or a converted Lead (its ConvertedContactId)'
        : 'instead, if it found one Contact',
  });
  return list;
}

function subrequest(settings: SalesforceSettings, write: WriteRequest, referenceId: string): Subrequest {
  return { method: write.method, url: subrequestUrl(settings, write.path), referenceId, body: write.body };
}

function single(settings: SalesforceSettings, write: WriteRequest, note: string): PlannedRequest {
  return {
    method: write.method,
    url: `${apiBase(settings)}${write.path}`,
    headers: JSON_HEADERS,
    body: write.body,
    note,
  };
}
