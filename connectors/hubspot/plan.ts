import { matchablePhone } from '../../src/mapping/phone.ts';
import { renderFields } from '../../src/mapping/template.ts';
import { escapeHtml } from '../../src/util/escape-html.ts';
import type { DeliveryContext, PlannedRequest } from '../types.ts';
import { NOTE_TO_CONTACT } from './client.ts';
import type { HubSpotSettings } from './settings.ts';

/** One event, as the HubSpot connector will write it. */
export interface Planned {
  context: DeliveryContext;
  email: string | undefined;
  phone: string | undefined;
  /** The phone as written to the contact (E.164 when readable). */
  rawPhone: string | undefined;
  /** Contact properties, without the email (it is the upsert's key, or written only when the contact has none). */
  properties: Record<string, string>;
  createOnly: Record<string, string>;
  /** The note's body as the template made it (cut to fit), without the marker line. */
  body: string;
  /** The line in the note that says which event it came from: how a retry finds a note it already made. */
  marker: string;
  /**
   * The contact an earlier delivery resolved this person to, when `known` is a match step:
   * the record of the most specific identifier the identity map knows (conversation, then
   * visitor, email, phone).
   */
  known: { identifier: string; id: string } | undefined;
}

/**
 * What the templates make of one event, and what the identity map knows of its person.
 *
 * @example
 * plan(settings, { ...context, identifiers: ['conversation:bot:c1'], known: { 'conversation:bot:c1': 'contact:101' } }).known
 * // { identifier: 'conversation:bot:c1', id: '101' }
 */
export function plan(settings: HubSpotSettings, context: DeliveryContext): Planned {
  const properties = renderFields(settings.properties, context.event);
  const createOnly = renderFields(settings.create_only_properties, context.event);
  const email = properties.email?.toLowerCase();
  const marker = `leadrelay event ${context.eventId}`;
  // The marker line is added when the note is written; the body is cut to fit HubSpot's limit.
  const body = (settings.note.render(context.event) ?? '').slice(0, 65_000);
  const { email: _email, ...rest } = properties;
  return {
    context,
    email,
    // Matching needs one spelling of a number: only a phone read as E.164 finds a contact.
    phone: matchablePhone(properties.phone),
    rawPhone: properties.phone,
    properties: email ? rest : properties,
    createOnly,
    body,
    marker,
    known: settings.match.includes('known') ? knownContact(context) : undefined,
  };
}

/**
 * The note as written: the body, what the contact did not take (an email it already had
 * another of), the marker line a retry finds it by.
 *
 * @example
 * noteText(p, 'dana@personal.example')
 * // '<p>…</p><p>Email given in this conversation: dana@acme.example (the contact keeps dana@personal.example)</p><p><small>leadrelay event ev_…</small></p>'
 */
export function noteText(p: Planned, keptEmail: string | undefined): string {
  const other =
    keptEmail && p.email
      ? `<p>Email given in this conversation: ${escapeHtml(p.email)} (the contact keeps ${escapeHtml(keptEmail)})</p>`
      : '';
  return `${p.body}${other}<p><small>${p.marker}</small></p>`;
}

function knownContact(context: DeliveryContext): Planned['known'] {
  const identifiers = context.identifiers ?? [];
  // A phone is shared far more often than an email (an office number): with an email in
  // hand, the contact a phone was mapped to is someone else's until the email says otherwise.
  const hasEmail = identifiers.some((identifier) => identifier.startsWith('email:'));
  for (const identifier of identifiers) {
    if (hasEmail && identifier.startsWith('phone:')) continue;
    const record = context.known?.[identifier];
    const id = record?.startsWith('contact:') ? record.slice('contact:'.length) : undefined;
    if (id) return { identifier, id };
  }
  return undefined;
}

export function rejection(failed: { message: string; propertyNames: string[] } | undefined): string {
  if (!failed) return 'HubSpot returned no result for this contact';
  const names = failed.propertyNames.length > 0 ? `property "${failed.propertyNames.join('", "')}": ` : '';
  return `HubSpot rejected the contact: ${names}${failed.message}`;
}

/** The requests `deliver` would send for an event no earlier delivery resolved (preview shows no identity map). */
export function previewRequests(settings: HubSpotSettings, p: Planned): PlannedRequest[] {
  const base = settings.base_url.replace(/\/+$/, '');
  const headers = { authorization: 'Bearer ••••••', 'content-type': 'application/json' };
  const requests: PlannedRequest[] = [];
  const byId = {
    method: 'POST',
    url: `${base}/crm/v3/objects/contacts/batch/update`,
    headers,
    body: {
      inputs: [
        { id: '{contact id}', properties: p.properties, objectWriteTraceId: String(p.context.deliveryId) },
      ],
    },
  };
  if (settings.match.includes('known')) {
    requests.push({
      method: 'POST',
      url: `${base}/crm/v3/objects/contacts/batch/read`,
      headers,
      body: { inputs: [{ id: '{known contact id}' }], properties: ['email', 'hs_merged_object_ids'] },
      note: 'only when an earlier delivery of this conversation, visitor, email or phone went to a contact (docs/identity.md): whether it still exists, or was merged; that contact is then updated by id (batch/update) instead of the requests below',
    });
  }
  const search = (phone: string) => ({
    method: 'POST',
    url: `${base}/crm/v3/objects/contacts/search`,
    headers,
    body: {
      filterGroups: [{ filters: [{ propertyName: 'phone', operator: 'EQ', value: phone }] }],
      properties: ['email', 'phone'],
      limit: 10,
    },
  });
  if (p.email) {
    const phoneStep = p.phone !== undefined && settings.match.includes('phone');
    if (Object.keys(p.createOnly).length > 0 || settings.match.includes('known') || phoneStep) {
      requests.push({
        method: 'POST',
        url: `${base}/crm/v3/objects/contacts/batch/read`,
        headers,
        body: { idProperty: 'email', inputs: [{ id: p.email }], properties: ['email'] },
        note: 'which contacts exist already: create-only properties are sent for new contacts only, an email on another contact than the known one is a conflict (delivered to the email’s contact, reported), and only an email no contact holds is searched by phone',
      });
    }
    if (p.phone && phoneStep) {
      requests.push({
        ...search(p.phone),
        note: 'only if no contact holds the email: one contact with this phone and no other email is then updated by id (batch/update) with the email instead of the upsert below; another email or several contacts are not matched',
      });
    }
    requests.push({
      method: 'POST',
      url: `${base}/crm/v3/objects/contacts/batch/upsert`,
      headers,
      body: {
        inputs: [
          {
            idProperty: 'email',
            id: p.email,
            properties: { ...p.createOnly, ...p.properties },
            objectWriteTraceId: String(p.context.deliveryId),
          },
        ],
      },
      ...(Object.keys(p.createOnly).length > 0
        ? { note: `${Object.keys(p.createOnly).join(', ')} only if the contact is new` }
        : {}),
    });
  } else if (p.phone) {
    requests.push(search(p.phone));
    requests.push({
      ...byId,
      note: 'if the search found one contact; if none, POST /crm/v3/objects/contacts with the create-only properties too',
    });
  }
  requests.push({
    method: 'POST',
    url: `${base}/crm/v3/objects/notes/batch/create`,
    headers,
    body: {
      inputs: [
        {
          properties: {
            hs_note_body: noteText(p, undefined),
            hs_timestamp: new Date(p.context.receivedAt).toISOString(),
          },
          associations: [
            {
              to: { id: '{contact id}' },
              types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: NOTE_TO_CONTACT }],
            },
          ],
          objectWriteTraceId: String(p.context.deliveryId),
        },
      ],
    },
    note: 'on a retry, only if the contact has no note for this event yet',
  });
  return requests;
}
