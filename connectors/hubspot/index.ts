import { matchablePhone, unreadablePhoneHint } from '../../src/mapping/phone.ts';
import { renderFields } from '../../src/mapping/template.ts';
import { limitsFrom } from '../common-settings.ts';
import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import {
  type DeliveryContext,
  type DeliveryResult,
  defineConnectorType,
  type PlannedRequest,
} from '../types.ts';
import { HubSpotClient, NOTE_TO_CONTACT } from './client.ts';
import { type HubSpotSettings, hubspotSettings } from './settings.ts';

/** How long a contact leadrelay created by phone is remembered, bridging HubSpot's eventually consistent search. */
const RECENT_PHONE_MS = 10 * 60_000;

interface Planned {
  context: DeliveryContext;
  email: string | undefined;
  phone: string | undefined;
  /** The phone as written to the contact (E.164 when readable). */
  rawPhone: string | undefined;
  properties: Record<string, string>;
  createOnly: Record<string, string>;
  note: string;
  /** The line in the note that says which event it came from: how a retry finds a note it already made. */
  marker: string;
}

/**
 * A qualified lead becomes a HubSpot contact — created, or updated when one
 * has that email (or, for a phone-only lead, that phone) — with the
 * transcript as a note associated to it. Batches use HubSpot's batch
 * endpoints (100 per call). A retry checks for the note it may already have
 * made before making one.
 */
export const hubspotConnector = defineConnectorType({
  type: 'hubspot',
  description: 'Upsert the contact in HubSpot and attach the transcript as a note',
  settings: hubspotSettings,
  create(name, settings, environment) {
    const client = new HubSpotClient({
      accessToken: settings.access_token,
      baseUrl: settings.base_url,
      timeoutMs: settings.timeout,
      rate: settings.rate_limit
        ? { requests: settings.rate_limit.requests, perMs: settings.rate_limit.per }
        : undefined,
      now: environment.now,
      rateShare: environment.rateShare,
    });
    const recentPhones = new Map<string, { id: string; at: number }>();
    // The request budget is kept by the client, per HTTP request (a call makes two to three, more
    // on retries): a second, per-call limit in the engine would only fall out of step with it. The
    // engine still holds back through `concurrency`, so at most that many batches are leased at once.
    const limits = { ...limitsFrom(settings, settings.batch_size), rate: undefined };

    async function deliverAll(contexts: DeliveryContext[]): Promise<(DeliveryResult | DeliveryError)[]> {
      const plans = contexts.map((context) => plan(settings, context));
      const outcomes = new Map<Planned, DeliveryResult | DeliveryError>();
      const contactOf = new Map<Planned, { id: string; created: boolean }>();

      const byEmail = plans.filter((p) => p.email);
      const byPhone = plans.filter((p) => !p.email && p.phone);
      for (const p of plans) {
        if (!p.email && !p.phone)
          outcomes.set(
            p,
            new PermanentError(
              p.rawPhone
                ? `the lead has no email, and its phone "${p.rawPhone}" cannot be read as an international number to match a HubSpot contact: ${unreadablePhoneHint()}`
                : 'the lead has neither an email nor a phone to match a HubSpot contact',
            ),
          );
      }

      if (byEmail.length > 0) {
        try {
          const needsCreateOnly = byEmail.some((p) => Object.keys(p.createOnly).length > 0);
          const existing = needsCreateOnly
            ? await client.existingByEmail(byEmail.map((p) => p.email!))
            : new Map();
          const upserted = await client.upsertByEmail(
            byEmail.map((p) => ({
              traceId: String(p.context.deliveryId),
              email: p.email!,
              properties: existing.has(p.email!) ? p.properties : { ...p.createOnly, ...p.properties },
            })),
          );
          for (const p of byEmail) {
            const trace = String(p.context.deliveryId);
            const done = upserted.ok.get(trace);
            const failed = upserted.failed.get(trace);
            if (done) contactOf.set(p, done);
            else outcomes.set(p, new PermanentError(rejection(failed)));
          }
        } catch (error) {
          for (const p of byEmail) outcomes.set(p, error as DeliveryError);
        }
      }

      for (const p of byPhone) {
        try {
          contactOf.set(p, await upsertByPhone(p));
        } catch (error) {
          outcomes.set(p, error as DeliveryError);
        }
      }

      await attachNotes(
        plans.filter((p) => contactOf.has(p)),
        contactOf,
        outcomes,
      );
      return plans.map((p) => outcomes.get(p) ?? new PermanentError('no outcome'));
    }

    async function upsertByPhone(p: Planned): Promise<{ id: string; created: boolean }> {
      const recent = recentPhones.get(p.phone!);
      const matches =
        recent && environment.now() - recent.at < RECENT_PHONE_MS
          ? [recent.id]
          : await client.searchByPhone(p.phone!);
      const unique = [...new Set(matches)];
      if (unique.length > 1) {
        throw new PermanentError(
          `ambiguous match: HubSpot contacts ${unique.join(', ')} all have phone ${p.phone}; merge them or add an email`,
        );
      }
      if (unique.length === 1) {
        await client.updateContact(unique[0]!, p.properties);
        return { id: unique[0]!, created: false };
      }
      // An earlier attempt may have created this contact moments ago, and search would not show it yet.
      // Waiting a whole lag from now (not only what is left of it) keeps this wait itself, which is
      // recorded as an attempt, from counting as the earlier attempt the next look must wait for.
      const endedBy = p.context.earlierAttemptsEndedBy;
      if (
        p.context.attempt > 1 &&
        endedBy !== undefined &&
        environment.now() - endedBy < settings.search_lag
      ) {
        throw new RetryableError(
          `no contact with phone ${p.phone} found, but HubSpot's search may not show one an earlier attempt created yet; looking again in ${Math.ceil(settings.search_lag / 1000)} s`,
          { retryAfterMs: settings.search_lag, notSent: true },
        );
      }
      const id = await client.createContact({ ...p.createOnly, ...p.properties });
      recentPhones.set(p.phone!, { id, at: environment.now() });
      return { id, created: true };
    }

    async function attachNotes(
      ready: Planned[],
      contactOf: Map<Planned, { id: string; created: boolean }>,
      outcomes: Map<Planned, DeliveryResult | DeliveryError>,
    ): Promise<void> {
      if (ready.length === 0) return;
      let portal: string | undefined;
      try {
        portal = settings.portal_id === undefined ? await client.portalId() : String(settings.portal_id);
      } catch {
        portal = undefined; // Links are a convenience; the delivery does not fail for them.
      }
      const existingNote = new Map<Planned, string>();
      for (const p of ready) {
        // Only a retry can find a note of its own: the first attempt skips the look-up.
        if (p.context.attempt <= 1) continue;
        try {
          const found = await client.notesContaining(contactOf.get(p)!.id, p.marker);
          if (found[0]) existingNote.set(p, found[0]);
        } catch (error) {
          outcomes.set(p, error as DeliveryError);
        }
      }
      const toCreate = ready.filter((p) => !existingNote.has(p) && !outcomes.has(p));
      let created = { ok: new Map<string, string>(), failed: new Map<string, { message: string }>() };
      if (toCreate.length > 0) {
        try {
          created = await client.createNotes(
            toCreate.map((p) => ({
              traceId: String(p.context.deliveryId),
              contactId: contactOf.get(p)!.id,
              body: p.note,
              timestamp: new Date(p.context.receivedAt).toISOString(),
            })),
          );
        } catch (error) {
          // Only the notes still to make failed: a retry that found its note is done all the same.
          for (const p of toCreate) outcomes.set(p, error as DeliveryError);
        }
      }
      for (const p of ready) {
        if (outcomes.has(p)) continue;
        const contact = contactOf.get(p)!;
        const noteId = existingNote.get(p) ?? created.ok.get(String(p.context.deliveryId));
        if (!noteId) {
          outcomes.set(
            p,
            new PermanentError(
              `HubSpot did not create the note: ${created.failed.get(String(p.context.deliveryId))?.message ?? 'no result'}`,
            ),
          );
          continue;
        }
        const url = portal
          ? `${settings.app_url.replace(/\/+$/, '')}/contacts/${portal}/record/0-1/${contact.id}`
          : undefined;
        outcomes.set(p, {
          summary: `contact ${contact.id} ${contact.created ? 'created' : 'updated'}, note ${noteId} ${existingNote.has(p) ? 'already there' : 'created'}`,
          data: {
            contact_id: contact.id,
            note_id: noteId,
            created: contact.created,
            ...(portal ? { portal_id: portal } : {}),
            ...(url ? { url, links: [{ label: 'Open in HubSpot', url }] } : {}),
          },
        });
      }
    }

    return {
      name,
      type: 'hubspot',
      limits,
      preview: (context) => previewRequests(settings, plan(settings, context)),
      async deliver(context) {
        const [outcome] = await deliverAll([context]);
        if (outcome instanceof Error) throw outcome;
        return outcome!;
      },
      deliverBatch: deliverAll,
    };
  },
});

function plan(settings: HubSpotSettings, context: DeliveryContext): Planned {
  const properties = renderFields(settings.properties, context.event);
  const createOnly = renderFields(settings.create_only_properties, context.event);
  const email = properties.email?.toLowerCase();
  const marker = `leadrelay event ${context.eventId}`;
  const body = settings.note.render(context.event) ?? '';
  // The marker line is part of the note so that a retry can recognise it; the body is cut to fit HubSpot's limit.
  const note = `${body.slice(0, 65_000)}<p><small>${marker}</small></p>`;
  const { email: _email, ...rest } = properties;
  return {
    context,
    email,
    // Matching needs one spelling of a number: only a phone read as E.164 finds a contact.
    phone: matchablePhone(properties.phone),
    rawPhone: properties.phone,
    properties: email ? rest : properties,
    createOnly,
    note,
    marker,
  };
}

function rejection(failed: { message: string; propertyNames: string[] } | undefined): string {
  if (!failed) return 'HubSpot returned no result for this contact';
  const names = failed.propertyNames.length > 0 ? `property "${failed.propertyNames.join('", "')}": ` : '';
  return `HubSpot rejected the contact: ${names}${failed.message}`;
}

function previewRequests(settings: HubSpotSettings, p: Planned): PlannedRequest[] {
  const base = settings.base_url.replace(/\/+$/, '');
  const headers = { authorization: 'Bearer ••••••', 'content-type': 'application/json' };
  const requests: PlannedRequest[] = [];
  if (p.email) {
    if (Object.keys(p.createOnly).length > 0) {
      requests.push({
        method: 'POST',
        url: `${base}/crm/v3/objects/contacts/batch/read`,
        headers,
        body: { idProperty: 'email', inputs: [{ id: p.email }], properties: ['email'] },
        note: 'which contacts exist already: create-only properties are sent for new contacts only',
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
    requests.push({
      method: 'POST',
      url: `${base}/crm/v3/objects/contacts/search`,
      headers,
      body: {
        filterGroups: [{ filters: [{ propertyName: 'phone', operator: 'EQ', value: p.phone }] }],
        properties: ['email', 'phone'],
        limit: 10,
      },
    });
    requests.push({
      method: 'PATCH',
      url: `${base}/crm/v3/objects/contacts/{id}`,
      headers,
      body: { properties: p.properties },
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
          properties: { hs_note_body: p.note, hs_timestamp: new Date(p.context.receivedAt).toISOString() },
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
