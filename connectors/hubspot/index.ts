import { unreadablePhoneHint } from '../../src/mapping/phone.ts';
import { limitsFrom } from '../common-settings.ts';
import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import { type DeliveryContext, type DeliveryResult, defineConnectorType } from '../types.ts';
import { HubSpotClient } from './client.ts';
import { noteText, type Planned, plan, previewRequests, rejection } from './plan.ts';
import { type PhoneSkipped, result, type Target } from './result.ts';
import { hubspotSettings } from './settings.ts';

/** How long a contact leadrelay created by phone is remembered, bridging HubSpot's eventually consistent search. */
const RECENT_PHONE_MS = 10 * 60_000;

type Extras = Omit<Target, 'id' | 'created' | 'by'>;

/**
 * An event becomes a note on a HubSpot contact: the contact an earlier event of the same
 * person went to (the identity map, updated by id), else the one holding the email
 * (upserted), else — for a lead without an email — the one found by phone, else a new one;
 * in the order `match` gives (docs/identity.md). A known contact merged in HubSpot is
 * followed to the merged record, a deleted one is replaced once. Batches use HubSpot's
 * batch endpoints (100 per call). A retry checks for the note it may already have made
 * before making one.
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
      const fail = (list: Planned[], error: unknown) => {
        for (const p of list) if (!outcomes.has(p)) outcomes.set(p, error as DeliveryError);
      };

      // Both look-ups at once: the known contacts (a merged one answers as the merged record, a
      // deleted one not at all) and who holds each email (create-only properties go to new
      // contacts only; an email on another contact than the known one is a conflict; only an
      // email no contact holds is worth a phone search).
      const withKnown = plans.filter((p) => p.known);
      const emailLookups = plans.filter(
        (p) => p.email && (p.known || Object.keys(p.createOnly).length > 0 || phoneFirst(p)),
      );
      let knownRead = true;
      const [current, owners] = await Promise.all([
        client.contactsById(unique(withKnown.map((p) => p.known!.id))).catch((error: unknown) => {
          knownRead = false;
          fail(withKnown, error);
          return new Map<string, { id: string; email: string | undefined }>();
        }),
        client.existingByEmail(unique(emailLookups.map((p) => p.email!))).catch((error: unknown) => {
          fail(emailLookups, error);
          return new Map<string, string>();
        }),
      ]);

      // What this process remembers of contacts it created by phone follows HubSpot too: a
      // deleted one is forgotten, a merged one becomes the merged record.
      for (const [phone, recent] of knownRead ? recentPhones : []) {
        if (!withKnown.some((p) => p.known!.id === recent.id)) continue;
        const now = current.get(recent.id);
        if (now) recent.id = now.id;
        else recentPhones.delete(phone);
      }

      const byEmail: { p: Planned; extras: Extras }[] = [];
      const byId: {
        p: Planned;
        id: string;
        by: Target['by'];
        properties: Record<string, string>;
        extras: Extras;
      }[] = [];
      const targets = new Map<Planned, Target>();
      // The email each contact updated by id in this batch ends up with: a second lead whose
      // phone finds that contact must not overwrite it with another email.
      const emailOf = new Map<string, string>();
      for (const p of plans) {
        if (outcomes.has(p)) continue;
        const live = p.known ? current.get(p.known.id) : undefined;
        const replaced: Target['replaced'] = !p.known
          ? undefined
          : !live
            ? { record: `contact:${p.known.id}`, why: 'deleted' }
            : live.id !== p.known.id
              ? { record: `contact:${p.known.id}`, why: 'merged' }
              : undefined;
        if (p.email) {
          const owner = owners.get(p.email);
          if (live && owner && owner !== live.id) {
            // Not ours to merge: the email's contact gets the delivery, and a person decides.
            // The map keeps the known contact for the conversation (and a merged id, which
            // HubSpot still answers): moving it to the email's contact would be a merge too.
            byEmail.push({ p, extras: { conflictWith: live.id } });
          } else if (live) {
            // What an earlier lead of this batch writes counts as the contact's email already.
            const email = emailOf.get(live.id) ?? live.email;
            const keptEmail = email && email !== p.email ? email : undefined;
            if (!email) emailOf.set(live.id, p.email);
            byId.push({
              p,
              id: live.id,
              by: 'known',
              properties: email ? p.properties : { ...p.properties, email: p.email },
              extras: { ...(replaced ? { replaced } : {}), ...(keptEmail ? { keptEmail } : {}) },
            });
          } else if (phoneFirst(p) && !owners.has(p.email)) {
            // One at a time, like the phone-only leads below, so searches keep to HubSpot's pace
            // and a contact an earlier lead of this batch took an email for is seen as taken.
            try {
              const found = await phoneContactFor(p, emailOf);
              if ('id' in found) {
                byId.push({
                  p,
                  id: found.id,
                  by: 'phone',
                  properties: { ...p.properties, email: p.email },
                  extras: replaced ? { replaced } : {},
                });
              } else {
                byEmail.push({
                  p,
                  extras: {
                    ...(replaced ? { replaced } : {}),
                    ...(found.skipped ? { phoneSkipped: found.skipped } : {}),
                  },
                });
              }
            } catch (error) {
              outcomes.set(p, error as DeliveryError);
            }
          } else byEmail.push({ p, extras: replaced ? { replaced } : {} });
          continue;
        }
        // Without an email: one at a time, so that two events of one phone in a batch find the
        // contact the first made (search would not show it yet; `recentPhones` does).
        try {
          const found = await withoutEmail(
            p,
            live?.id,
            replaced?.why === 'deleted' ? p.known!.id : undefined,
          );
          if (found.created)
            targets.set(p, { id: found.id, created: true, by: 'created', ...(replaced ? { replaced } : {}) });
          else
            byId.push({
              p,
              id: found.id,
              by: found.by,
              properties: p.properties,
              extras: replaced ? { replaced } : {},
            });
        } catch (error) {
          outcomes.set(p, error as DeliveryError);
        }
      }

      if (byEmail.length > 0) {
        try {
          const upserted = await client.upsertByEmail(
            byEmail.map(({ p }) => ({
              traceId: String(p.context.deliveryId),
              email: p.email!,
              properties: owners.has(p.email!) ? p.properties : { ...p.createOnly, ...p.properties },
            })),
          );
          for (const { p, extras } of byEmail) {
            const trace = String(p.context.deliveryId);
            const done = upserted.ok.get(trace);
            if (done) targets.set(p, { ...done, by: done.created ? 'created' : 'email', ...extras });
            else outcomes.set(p, new PermanentError(rejection(upserted.failed.get(trace))));
          }
        } catch (error) {
          fail(
            byEmail.map(({ p }) => p),
            error,
          );
        }
      }

      // Two events of one person in a batch (their ordering keys differ: a phone, then an email)
      // update one contact: one call each, in order, since HubSpot does not say which of two
      // updates of one record in a batch wins.
      const rounds: (typeof byId)[] = [];
      for (const entry of byId) {
        const round = rounds.find((r) => !r.some((other) => other.id === entry.id));
        if (round) round.push(entry);
        else rounds.push([entry]);
      }
      for (const round of rounds) {
        try {
          const updated = await client.updateById(
            round.map(({ p, id, properties }) => ({ traceId: String(p.context.deliveryId), id, properties })),
          );
          for (const { p, id, by, extras } of round) {
            const trace = String(p.context.deliveryId);
            const answered = updated.ok.get(trace);
            const failed = updated.failed.get(trace);
            if (answered) {
              // An id from search or `recentPhones` may have been merged since: HubSpot answers with the merged record.
              const replaced =
                extras.replaced ??
                (answered !== id ? { record: `contact:${id}`, why: 'merged' as const } : undefined);
              targets.set(p, {
                id: answered,
                created: false,
                by,
                ...extras,
                ...(replaced ? { replaced } : {}),
              });
            } else if (failed?.category === 'OBJECT_NOT_FOUND' || failed?.category === 'CONFLICT') {
              // Deleted, or the email taken, between the look-up and the write: the retry looks again.
              for (const [phone, recent] of recentPhones) if (recent.id === id) recentPhones.delete(phone);
              outcomes.set(
                p,
                new RetryableError(`HubSpot contact ${id} changed while updating it: ${failed.message}`),
              );
            } else outcomes.set(p, new PermanentError(rejection(failed)));
          }
        } catch (error) {
          fail(
            round.map(({ p }) => p),
            error,
          );
        }
      }

      await attachNotes(
        plans.filter((p) => targets.has(p) && !outcomes.has(p)),
        targets,
        outcomes,
      );
      return plans.map((p) => outcomes.get(p) ?? new PermanentError('no outcome'));
    }

    /**
     * Whether a lead with an email searches by phone when no contact holds the email: a visitor
     * who left only a phone elsewhere (a contact leadrelay never resolved) then gives an email.
     */
    function phoneFirst(p: Planned): boolean {
      return Boolean(p.email && p.phone && settings.match.includes('phone'));
    }

    /**
     * The contact a lead's phone is on, when it can be this person's: one contact, with no
     * email or this one. Another email, or several contacts, is not matched (two people can
     * share a phone): the lead is upserted by its email as without the search, and says why.
     * No `search_lag` wait on a retry, unlike a phone-only lead: whatever an earlier attempt
     * wrote holds the email, which the (consistent) read by email finds.
     */
    async function phoneContactFor(
      p: Planned,
      emailOf: Map<string, string>,
    ): Promise<{ id: string } | { skipped?: PhoneSkipped }> {
      const found = [...new Map((await client.searchByPhone(p.phone!)).map((c) => [c.id, c])).values()];
      if (found.length === 0) return {};
      const contacts = found.map((contact) => contact.id);
      if (found.length > 1) return { skipped: { phone: p.phone!, contacts, because: 'several' } };
      const [contact] = found as [{ id: string; email: string | undefined }];
      const email = emailOf.get(contact.id) ?? contact.email;
      if (email && email !== p.email)
        return { skipped: { phone: p.phone!, contacts, because: 'other_email' } };
      emailOf.set(contact.id, p.email!);
      return { id: contact.id };
    }

    /** A lead without an email: the steps of `match` other than `email`, in order, then a new contact. */
    async function withoutEmail(
      p: Planned,
      known: string | undefined,
      deleted: string | undefined,
    ): Promise<{ id: string; created: false; by: 'known' | 'phone' } | { id: string; created: true }> {
      let searched = false;
      for (const step of settings.match) {
        if (step === 'known' && known) return { id: known, created: false, by: 'known' };
        if (step === 'phone' && p.phone) {
          searched = true;
          const found = await findByPhone(p);
          if (found) return { id: found, created: false, by: 'phone' };
        }
      }
      if (!p.phone) {
        throw new PermanentError(
          p.rawPhone
            ? `the lead has no email, and its phone "${p.rawPhone}" cannot be read as an international number to match a HubSpot contact: ${unreadablePhoneHint()}`
            : deleted
              ? `HubSpot contact ${deleted}, where this person's earlier events went, was deleted, and the event has neither an email nor a phone to make a new one`
              : 'the lead has neither an email nor a phone to match a HubSpot contact, and no earlier delivery of its conversation or visitor is known',
        );
      }
      if (p.context.attempt > 1) {
        // An earlier attempt may have created the contact and died before it was recorded: a
        // retry looks by phone before creating, whether or not `phone` is a match step.
        const found = searched ? undefined : await findByPhone(p);
        if (found) return { id: found, created: false, by: 'phone' };
        // Search may not show that contact yet. Waiting a whole lag from now (not only what is
        // left of it) keeps this wait itself, which is recorded as an attempt, from counting as
        // the earlier attempt the next look must wait for.
        const endedBy = p.context.earlierAttemptsEndedBy;
        if (endedBy !== undefined && environment.now() - endedBy < settings.search_lag) {
          throw new RetryableError(
            `no contact with phone ${p.phone} found, but HubSpot's search may not show one an earlier attempt created yet; looking again in ${Math.ceil(settings.search_lag / 1000)} s`,
            { retryAfterMs: settings.search_lag, notSent: true },
          );
        }
      }
      const id = await client.createContact({ ...p.createOnly, ...p.properties });
      recentPhones.set(p.phone, { id, at: environment.now() });
      return { id, created: true };
    }

    async function findByPhone(p: Planned): Promise<string | undefined> {
      const recent = recentPhones.get(p.phone!);
      const matches =
        recent && environment.now() - recent.at < RECENT_PHONE_MS
          ? [recent.id]
          : (await client.searchByPhone(p.phone!)).map((contact) => contact.id);
      const found = unique(matches);
      if (found.length > 1) {
        throw new PermanentError(
          `ambiguous match: HubSpot contacts ${found.join(', ')} all have phone ${p.phone}; merge them or add an email`,
        );
      }
      return found[0];
    }

    async function attachNotes(
      ready: Planned[],
      targets: Map<Planned, Target>,
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
          const found = await client.notesContaining(targets.get(p)!.id, p.marker);
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
              contactId: targets.get(p)!.id,
              body: noteText(p, targets.get(p)!.keptEmail),
              timestamp: new Date(p.context.receivedAt).toISOString(),
            })),
          );
        } catch (error) {
          // Only the notes still to make failed: a retry that found its note is done all the same.
          for (const p of toCreate) outcomes.set(p, error as DeliveryError);
        }
      }
      const link = (id: string) =>
        portal ? `${settings.app_url.replace(/\/+$/, '')}/contacts/${portal}/record/0-1/${id}` : undefined;
      for (const p of ready) {
        if (outcomes.has(p)) continue;
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
        outcomes.set(p, result(p, targets.get(p)!, noteId, existingNote.has(p), portal, link));
      }
    }

    return {
      name,
      type: 'hubspot',
      limits,
      remembers: true,
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

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
