import type { Client } from '@hubspot/api-client';
import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/models/Filter.js';
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/models/AssociationSpec.js';
import { RateLimiter, shareRate } from '../../src/util/rate-limiter.ts';
import { RetryableError } from '../errors.ts';
import { hubspotError } from './errors.ts';

/** Note → contact, HubSpot-defined (VENDOR-NOTES). */
export const NOTE_TO_CONTACT = 202;

/**
 * HubSpot limits search apart from the portal's budget: four requests per second per token
 * (its changelog), five per account (its usage guidelines). A batch of leads that each need a
 * phone search would otherwise send them as fast as the budget allows and meet 429s.
 */
const SEARCH_RATE = { requests: 4, perMs: 1_000 };

export interface BatchOutcome<T> {
  /** By objectWriteTraceId. */
  ok: Map<string, T>;
  failed: Map<string, { message: string; category?: string; propertyNames: string[] }>;
}

/**
 * The HubSpot calls the connector makes, through the official SDK, with one
 * policy around every request: a request budget that keeps under the
 * portal's rolling limit, a timeout, and HubSpot's errors mapped to typed
 * delivery errors. The SDK's own retries and limiter stay off (they are a
 * process-wide singleton in the SDK, and ours must be the only policy).
 */
export class HubSpotClient {
  // Loaded on the first call, not when the configuration is read: commands
  // that never deliver (check, deliveries list…) start without the SDK.
  private sdkClient: Promise<Client> | undefined;
  private budget: RateLimiter;
  private searchBudget: RateLimiter;
  private workers = 1;
  private portal: Promise<string> | undefined;

  constructor(
    private readonly options: {
      accessToken: string;
      baseUrl: string;
      timeoutMs: number;
      rate: { requests: number; perMs: number } | undefined;
      now: () => number;
      rateShare?: (() => number) | undefined;
    },
  ) {
    this.budget = this.budgetFor(1);
    this.searchBudget = this.searchBudgetFor(1);
  }

  private sdk(): Promise<Client> {
    this.sdkClient ??= import('@hubspot/api-client').then(
      ({ Client }) =>
        new Client({
          accessToken: this.options.accessToken,
          basePath: this.options.baseUrl.replace(/\/+$/, ''),
        }),
    );
    return this.sdkClient;
  }

  /** This process's part of the portal's budget, rebuilt when the number of workers sharing it changes. */
  private budgetFor(workers: number): RateLimiter {
    this.workers = workers;
    const share = shareRate(this.options.rate, workers);
    // A little slack on the window: HubSpot counts a request when it arrives, we when we send it.
    return new RateLimiter(share ? { ...share, perMs: share.perMs + 250 } : undefined, this.options.now);
  }

  /** This process's part of HubSpot's search limit, which the workers share like the budget. */
  private searchBudgetFor(workers: number): RateLimiter {
    const share = shareRate(SEARCH_RATE, workers)!;
    return new RateLimiter({ ...share, perMs: share.perMs + 250 }, this.options.now);
  }

  /** The portal (hub) id, for record links; asked once per connector. */
  portalId(): Promise<string> {
    this.portal ??= this.call('looking up the portal id', async (sdk) => {
      const response = await sdk.apiRequest({ method: 'GET', path: '/account-info/v3/details' });
      const json = (await response.json()) as { portalId?: number };
      if (!json.portalId) throw new Error('no portalId in /account-info/v3/details');
      return String(json.portalId);
    }).catch((error: unknown) => {
      this.portal = undefined;
      throw error;
    });
    return this.portal;
  }

  /** Existing contacts among these emails: email → id. */
  async existingByEmail(emails: string[]): Promise<Map<string, string>> {
    if (emails.length === 0) return new Map();
    const response = await this.call('reading contacts by email', (sdk) =>
      sdk.crm.contacts.batchApi.read({
        idProperty: 'email',
        inputs: emails.map((id) => ({ id })),
        properties: ['email'],
        propertiesWithHistory: [],
      }),
    );
    return new Map(
      response.results.map((contact) => [String(contact.properties.email).toLowerCase(), contact.id]),
    );
  }

  /**
   * The contacts these ids name now, by requested id: the contact itself, the record a
   * merge made of it (HubSpot answers a merged-away id with the merged record, whose
   * `hs_merged_object_ids` lists the old ids), or nothing when it was deleted.
   */
  async contactsById(ids: string[]): Promise<Map<string, { id: string; email: string | undefined }>> {
    const found = new Map<string, { id: string; email: string | undefined }>();
    if (ids.length === 0) return found;
    const response = await this.call('reading the known contacts', (sdk) =>
      sdk.crm.contacts.batchApi.read({
        inputs: ids.map((id) => ({ id })),
        properties: ['email', 'hs_merged_object_ids'],
        propertiesWithHistory: [],
      }),
    );
    for (const contact of response.results) {
      const email = contact.properties.email ? String(contact.properties.email).toLowerCase() : undefined;
      const answersFor = [contact.id, ...String(contact.properties.hs_merged_object_ids ?? '').split(';')];
      for (const id of ids) if (answersFor.includes(id)) found.set(id, { id: contact.id, email });
    }
    return found;
  }

  /** Updates contacts by id, each input traced; the id answered is the contact's current one (after a merge, the merged record's). */
  async updateById(
    inputs: { traceId: string; id: string; properties: Record<string, string> }[],
  ): Promise<BatchOutcome<string>> {
    const response = await this.call('updating contacts by id', (sdk) =>
      sdk.crm.contacts.batchApi.update({
        inputs: inputs.map((input) => ({
          id: input.id,
          properties: input.properties,
          objectWriteTraceId: input.traceId,
        })),
      }),
    );
    const ok = new Map<string, string>();
    for (const result of response.results) {
      const traceId = (result as typeof result & { objectWriteTraceId?: string }).objectWriteTraceId;
      if (traceId) ok.set(traceId, result.id);
    }
    return { ok, failed: tracedErrors(response) };
  }

  /** Creates or updates by email, each input traced so one bad input does not fail the others (207). */
  async upsertByEmail(
    inputs: { traceId: string; email: string; properties: Record<string, string> }[],
  ): Promise<BatchOutcome<{ id: string; created: boolean }>> {
    const response = await this.call('upserting contacts', (sdk) =>
      sdk.crm.contacts.batchApi.upsert({
        inputs: inputs.map((input) => ({
          idProperty: 'email',
          id: input.email,
          properties: input.properties,
          objectWriteTraceId: input.traceId,
        })),
      }),
    );
    const ok = new Map<string, { id: string; created: boolean }>();
    for (const result of response.results) {
      const traced = result as typeof result & { objectWriteTraceId?: string; _new?: boolean; new?: boolean };
      if (traced.objectWriteTraceId)
        ok.set(traced.objectWriteTraceId, { id: result.id, created: Boolean(traced._new ?? traced.new) });
    }
    return { ok, failed: tracedErrors(response) };
  }

  /** Contacts whose phone equals this E.164 number, with their email (search is eventually consistent). */
  async searchByPhone(phone: string): Promise<{ id: string; email: string | undefined }[]> {
    this.share();
    await takeWhenFree(this.searchBudget, this.options.now);
    const response = await this.call('searching contacts by phone', (sdk) =>
      sdk.crm.contacts.searchApi.doSearch({
        filterGroups: [
          { filters: [{ propertyName: 'phone', operator: FilterOperatorEnum.Eq, value: phone }] },
        ],
        properties: ['email', 'phone'],
        limit: 10,
        after: '0',
        sorts: [],
      }),
    );
    return response.results.map((contact) => ({
      id: contact.id,
      email: contact.properties.email ? String(contact.properties.email).toLowerCase() : undefined,
    }));
  }

  async createContact(properties: Record<string, string>): Promise<string> {
    const contact = await this.call('creating the contact', (sdk) =>
      sdk.crm.contacts.basicApi.create({ properties, associations: [] }),
    );
    return contact.id;
  }

  /** The notes on a contact whose body contains `marker`: the check before redoing a note. */
  async notesContaining(contactId: string, marker: string): Promise<string[]> {
    const contact = await this.call('reading the contact notes', (sdk) =>
      sdk.crm.contacts.basicApi.getById(contactId, ['email'], undefined, ['notes']),
    );
    const noteIds = (contact.associations?.notes?.results ?? []).map((association) => association.id);
    if (noteIds.length === 0) return [];
    const notes = await this.call('reading notes', (sdk) =>
      sdk.crm.objects.notes.batchApi.read({
        inputs: noteIds.map((id) => ({ id })),
        properties: ['hs_note_body'],
        propertiesWithHistory: [],
      }),
    );
    return notes.results
      .filter((note) => String(note.properties.hs_note_body ?? '').includes(marker))
      .map((note) => note.id);
  }

  async createNotes(
    inputs: { traceId: string; contactId: string; body: string; timestamp: string }[],
  ): Promise<BatchOutcome<string>> {
    const response = await this.call('creating notes', (sdk) =>
      sdk.crm.objects.notes.batchApi.create({
        inputs: inputs.map((input) => ({
          properties: { hs_note_body: input.body, hs_timestamp: input.timestamp },
          associations: [
            {
              to: { id: input.contactId },
              types: [
                {
                  associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
                  associationTypeId: NOTE_TO_CONTACT,
                },
              ],
            },
          ],
          objectWriteTraceId: input.traceId,
        })),
      }),
    );
    const ok = new Map<string, string>();
    response.results.forEach((note, index) => {
      const traceId =
        (note as typeof note & { objectWriteTraceId?: string }).objectWriteTraceId ?? inputs[index]?.traceId;
      if (traceId) ok.set(traceId, note.id);
    });
    return { ok, failed: tracedErrors(response) };
  }

  /** Follows the number of workers sharing the portal's limits. */
  private share(): void {
    const workers = this.options.rateShare?.() ?? 1;
    if (workers === this.workers) return;
    this.budget = this.budgetFor(workers);
    this.searchBudget = this.searchBudgetFor(workers);
  }

  /** One request: wait for budget, bound its time, map its failure. */
  private async call<T>(what: string, run: (sdk: Client) => Promise<T>): Promise<T> {
    const sdk = await this.sdk();
    this.share();
    await takeWhenFree(this.budget, this.options.now);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RetryableError(`HubSpot did not answer within ${this.options.timeoutMs} ms while ${what}`),
          ),
        this.options.timeoutMs,
      );
    });
    try {
      return await Promise.race([run(sdk), timeout]);
    } catch (error) {
      throw hubspotError(error, what, this.options.now());
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Waits for one request's room in `limiter` and takes it, with no await in between: concurrent callers never share a slot. */
async function takeWhenFree(limiter: RateLimiter, now: () => number): Promise<void> {
  while (limiter.available() < 1) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(5, limiter.nextFreeAt() - now())));
  }
  limiter.take();
}

function tracedErrors(response: unknown): BatchOutcome<unknown>['failed'] {
  const failed: BatchOutcome<unknown>['failed'] = new Map();
  const errors = (response as { errors?: unknown[] }).errors ?? [];
  for (const raw of errors) {
    const error = raw as {
      message?: string;
      category?: string;
      context?: { objectWriteTraceId?: string[] };
      errors?: { context?: { propertyName?: string[] } }[];
    };
    const propertyNames = (error.errors ?? []).flatMap((detail) => detail.context?.propertyName ?? []);
    for (const traceId of error.context?.objectWriteTraceId ?? []) {
      failed.set(traceId, {
        message: error.message ?? 'rejected',
        ...(error.category ? { category: error.category } : {}),
        propertyNames,
      });
    }
  }
  return failed;
}
