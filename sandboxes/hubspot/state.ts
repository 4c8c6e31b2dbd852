/**
 * The portal a HubSpot sandbox holds: contacts, notes and their
 * associations, with HubSpot's rules (unique email, known properties only,
 * required note timestamp). Pure data and rules; the HTTP side is in
 * sandbox.ts.
 */

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: false;
}

export interface HubSpotNote extends HubSpotRecord {
  /** Contact ids this note is associated with (type 202, note → contact). */
  contactIds: string[];
}

/** The properties a fresh portal has (HubSpot's defaults); anything else is PROPERTY_DOESNT_EXIST. */
export const DEFAULT_CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'mobilephone',
  'company',
  'jobtitle',
  'website',
  'lifecyclestage',
  'hs_lead_status',
  'message',
  'city',
  'country',
  'state',
  'zip',
  'address',
  'industry',
  'numemployees',
  'annualrevenue',
] as const;

export class ValidationFailure extends Error {
  constructor(
    message: string,
    readonly errors: { message: string; code: string; context?: Record<string, string[]> }[],
    readonly category = 'VALIDATION_ERROR',
  ) {
    super(message);
  }
}

export class Conflict extends Error {
  constructor(readonly existingId: string) {
    super(`Contact already exists. Existing ID: ${existingId}`);
  }
}

export class PortalState {
  readonly contacts = new Map<string, HubSpotRecord>();
  readonly notes = new Map<string, HubSpotNote>();
  readonly contactProperties = new Set<string>(DEFAULT_CONTACT_PROPERTIES);
  /** How long a new or changed contact stays invisible to search (HubSpot's search is eventually consistent). */
  searchLagMs = 0;
  private nextContactId = 101;
  private nextNoteId = 2001;
  private readonly visibleAt = new Map<string, number>();
  // Indexes, so that a portal of tens of thousands of records answers as fast as HubSpot would.
  private readonly idByEmail = new Map<string, string>();
  private readonly notesByContact = new Map<string, HubSpotNote[]>();
  /** Deleted contacts (HubSpot archives them). */
  readonly archived = new Map<string, HubSpotRecord>();
  /** An id merged away → the record the merge made. */
  private readonly mergedInto = new Map<string, string>();

  constructor(readonly portalId: number) {}

  /** Lets the sandbox accept a custom property, as an admin would create one in HubSpot. */
  defineContactProperty(name: string): void {
    this.contactProperties.add(name);
  }

  findByEmail(email: string): HubSpotRecord | undefined {
    const id = this.idByEmail.get(email.trim().toLowerCase());
    return id === undefined ? undefined : this.contacts.get(id);
  }

  /**
   * The live contact an id names: itself, or — for an id merged away — the record the
   * merge produced ("fetching any records using the original IDs will return the new
   * merged record with the new ID": developers.hubspot.com/changelog/updated-merge-functionality-for-contacts-and-companies).
   * A deleted (archived) contact is not found.
   */
  contactBy(id: string, idProperty: string | undefined): HubSpotRecord | undefined {
    if (idProperty === 'email') return this.findByEmail(id);
    let current = id;
    for (let hops = 0; hops < 100 && this.mergedInto.has(current); hops++)
      current = this.mergedInto.get(current)!;
    return this.contacts.get(current);
  }

  /** Deletes a contact as HubSpot's DELETE does: archived, no longer read, searched or upserted by email. */
  archiveContact(id: string): boolean {
    const contact = this.contacts.get(id);
    if (!contact) return false;
    this.contacts.delete(id);
    if (contact.properties.email && this.idByEmail.get(contact.properties.email) === id)
      this.idByEmail.delete(contact.properties.email);
    this.archived.set(id, contact);
    return true;
  }

  /**
   * HubSpot's merge of two contacts, as its changelog (above) describes it: a new
   * record with a new id holds both; the primary's values win, the other's fill the gaps;
   * both originals are archived and their ids answer with the new record;
   * `hs_merged_object_ids` lists them; notes move to the new record. The merged-away
   * email is kept in `hs_additional_emails`, which this sandbox does not match on.
   */
  mergeContacts(primaryId: string, toMergeId: string): HubSpotRecord {
    const primary = this.contactBy(primaryId, undefined);
    const other = this.contactBy(toMergeId, undefined);
    if (!primary || !other) {
      const missing = primary ? toMergeId : primaryId;
      throw new ValidationFailure(`Object with id ${missing} not found`, [
        { message: `Object with id ${missing} not found`, code: 'OBJECT_NOT_FOUND' },
      ]);
    }
    if (primary.id === other.id)
      throw new ValidationFailure('Cannot merge an object with itself', [
        { message: 'Cannot merge an object with itself', code: 'INVALID_MERGE' },
      ]);
    const merged: Record<string, string> = { ...other.properties };
    for (const [name, value] of Object.entries(primary.properties)) if (value !== '') merged[name] = value;
    const emails = [primary.properties.email, other.properties.email].filter((email) => email);
    const ids = [primary, other].flatMap((c) => [
      c.id,
      ...(c.properties.hs_merged_object_ids?.split(';') ?? []),
    ]);
    for (const name of ['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_merged_object_ids'])
      delete merged[name];
    this.archiveContact(primary.id);
    this.archiveContact(other.id);
    const contact = this.createContact({});
    Object.assign(contact.properties, merged, {
      hs_object_id: contact.id,
      hs_merged_object_ids: [...new Set(ids.filter((id) => id))].join(';'),
      ...(emails[0] ? { email: emails[0] } : {}),
      ...(emails[1] && emails[1] !== emails[0] ? { hs_additional_emails: emails[1] } : {}),
    });
    if (emails[0]) this.idByEmail.set(emails[0], contact.id);
    this.mergedInto.set(primary.id, contact.id);
    this.mergedInto.set(other.id, contact.id);
    const notes = [...this.notesOf(primary.id), ...this.notesOf(other.id)];
    for (const note of notes)
      note.contactIds = [
        ...new Set(note.contactIds.map((id) => (id === primary.id || id === other.id ? contact.id : id))),
      ];
    this.notesByContact.delete(primary.id);
    this.notesByContact.delete(other.id);
    this.notesByContact.set(contact.id, notes);
    return contact;
  }

  createContact(properties: Record<string, unknown>): HubSpotRecord {
    const clean = this.checkContactProperties(properties);
    if (clean.email) {
      const existing = this.findByEmail(clean.email);
      if (existing) throw new Conflict(existing.id);
    }
    const now = new Date().toISOString();
    const contact: HubSpotRecord = {
      id: String(this.nextContactId++),
      properties: { ...clean, hs_object_id: '', createdate: now, lastmodifieddate: now },
      createdAt: now,
      updatedAt: now,
      archived: false,
    };
    contact.properties.hs_object_id = contact.id;
    this.contacts.set(contact.id, contact);
    if (clean.email) this.idByEmail.set(clean.email, contact.id);
    this.visibleAt.set(contact.id, Date.now() + this.searchLagMs);
    return contact;
  }

  updateContact(contact: HubSpotRecord, properties: Record<string, unknown>): HubSpotRecord {
    const clean = this.checkContactProperties(properties);
    if (clean.email && clean.email !== contact.properties.email) {
      const other = this.findByEmail(clean.email);
      if (other && other.id !== contact.id) throw new Conflict(other.id);
    }
    const now = new Date().toISOString();
    if (clean.email !== undefined && clean.email !== contact.properties.email) {
      if (contact.properties.email) this.idByEmail.delete(contact.properties.email);
      if (clean.email) this.idByEmail.set(clean.email, contact.id);
    }
    Object.assign(contact.properties, clean, { lastmodifieddate: now });
    contact.updatedAt = now;
    return contact;
  }

  /** Contacts matching every `EQ` filter of one of the groups, ignoring those search cannot see yet. */
  search(
    filterGroups: { filters: { propertyName: string; operator: string; value?: string }[] }[],
  ): HubSpotRecord[] {
    const now = Date.now();
    return [...this.contacts.values()].filter(
      (contact) =>
        (this.visibleAt.get(contact.id) ?? 0) <= now &&
        filterGroups.some((group) =>
          group.filters.every((filter) => {
            if (filter.operator !== 'EQ')
              throw new ValidationFailure(`operator ${filter.operator} is not supported by the sandbox`, []);
            const value = contact.properties[filter.propertyName];
            return value !== undefined && value.toLowerCase() === String(filter.value ?? '').toLowerCase();
          }),
        ),
    );
  }

  createNote(properties: Record<string, unknown>, contactIds: string[]): HubSpotNote {
    const clean: Record<string, string> = {};
    for (const [name, value] of Object.entries(properties ?? {})) {
      if (!['hs_note_body', 'hs_timestamp', 'hubspot_owner_id', 'hs_attachment_ids'].includes(name)) {
        throw propertyMissing(name, 'note');
      }
      clean[name] = String(value);
    }
    if (!clean.hs_timestamp) {
      throw new ValidationFailure('Property values were not valid: hs_timestamp is required', [
        {
          message: 'hs_timestamp is required',
          code: 'REQUIRED_PROPERTY',
          context: { propertyName: ['hs_timestamp'] },
        },
      ]);
    }
    if ((clean.hs_note_body ?? '').length > 65_536) {
      throw new ValidationFailure(
        'Property values were not valid: hs_note_body is longer than 65536 characters',
        [
          {
            message: 'hs_note_body is too long',
            code: 'INVALID_LENGTH',
            context: { propertyName: ['hs_note_body'] },
          },
        ],
      );
    }
    for (const id of contactIds) {
      if (!this.contacts.has(id)) {
        throw new ValidationFailure(`No contact with ID ${id} exists to associate with`, [
          { message: `Object with id ${id} not found`, code: 'INVALID_ASSOCIATION' },
        ]);
      }
    }
    const now = new Date().toISOString();
    const note: HubSpotNote = {
      id: String(this.nextNoteId++),
      properties: { ...clean, hs_object_id: '', hs_createdate: now },
      createdAt: now,
      updatedAt: now,
      archived: false,
      contactIds: [...contactIds],
    };
    note.properties.hs_object_id = note.id;
    this.notes.set(note.id, note);
    for (const contactId of note.contactIds) {
      const list = this.notesByContact.get(contactId) ?? [];
      list.push(note);
      this.notesByContact.set(contactId, list);
    }
    return note;
  }

  notesOf(contactId: string): HubSpotNote[] {
    return [...(this.notesByContact.get(contactId) ?? [])];
  }

  /** Checks contact properties as a create would, without writing anything. */
  validateContact(properties: Record<string, unknown>): void {
    this.checkContactProperties(properties);
  }

  private checkContactProperties(properties: Record<string, unknown>): Record<string, string> {
    const clean: Record<string, string> = {};
    const unknown = Object.keys(properties ?? {}).filter((name) => !this.contactProperties.has(name));
    if (unknown.length > 0) throw propertyMissing(unknown[0]!, 'contact', unknown);
    for (const [name, value] of Object.entries(properties ?? {}))
      clean[name] = value === null ? '' : String(value);
    if (clean.email !== undefined) {
      clean.email = clean.email.trim().toLowerCase();
      if (clean.email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(clean.email)) {
        throw new ValidationFailure(
          `Property values were not valid: ${clean.email} is not a valid email address`,
          [
            {
              message: `Email address ${clean.email} is invalid`,
              code: 'INVALID_EMAIL',
              context: { propertyName: ['email'] },
            },
          ],
        );
      }
    }
    return clean;
  }
}

function propertyMissing(name: string, object: string, all: string[] = [name]): ValidationFailure {
  return new ValidationFailure(
    `Property values were not valid: ${all.map((n) => `Property "${n}" does not exist`).join('; ')}`,
    all.map((n) => ({
      message: `Property "${n}" does not exist`,
      code: 'PROPERTY_DOESNT_EXIST',
      context: { propertyName: [n] },
    })),
    object === 'note' ? 'VALIDATION_ERROR' : 'VALIDATION_ERROR',
  );
}
