import { RequestError } from './errors.ts';
import { DEFAULTS_ON_CREATE, type FieldDef, PREFIXES, standardSchema, USER_ID } from './schema.ts';
import { SoqlError } from './soql.ts';

export interface SandboxRecord {
  Id: string;
  [field: string]: unknown;
}

/** The org's records at one moment, for an allOrNone rollback. */
export interface OrgSnapshot {
  live: Map<string, Map<string, SandboxRecord>>;
  bin: Map<string, SandboxRecord & { object: string }>;
}

export class SandboxOrg {
  readonly schema = standardSchema();
  private readonly store = new Map<string, Map<string, SandboxRecord>>();
  /**
   * The Recycle Bin: deleted records, by id. Salesforce keeps them 15 days,
   * left out of queries (only queryAll sees them) and answering
   * ENTITY_IS_DELETED to anything that names them (see `deleted`).
   */
  private bin = new Map<string, SandboxRecord & { object: string }>();
  private counter = 0;

  constructor(options: {
    customFields?: Record<string, string[]> | undefined;
    externalIdFields?: Record<string, string[]> | undefined;
  }) {
    for (const object of Object.keys(this.schema)) this.store.set(object, new Map());
    for (const [object, fields] of Object.entries(options.customFields ?? {}))
      for (const field of fields) this.schemaOf(object)[field] = { type: 'string', length: 255 };
    for (const [object, fields] of Object.entries(options.externalIdFields ?? {}))
      for (const field of fields)
        this.schemaOf(object)[field] = { type: 'string', length: 255, externalId: true };
  }

  records(object: string): SandboxRecord[] {
    return [...(this.store.get(object)?.values() ?? [])].map((record) => structuredClone(record));
  }

  seed(object: string, fields: Record<string, unknown>): string {
    const id = this.newId(object);
    const now = new Date().toISOString();
    this.table(object).set(id, {
      ...(DEFAULTS_ON_CREATE[object] ?? {}),
      OwnerId: USER_ID,
      ...fields,
      Id: id,
      CreatedDate: now,
      LastModifiedDate: now,
    });
    this.computeFields(object, this.table(object).get(id)!);
    return id;
  }

  convertLead(leadId: string): { leadId: string; contactId: string; accountId: string } {
    const lead = this.table('Lead').get(leadId);
    if (!lead) throw new Error(`no Lead ${leadId}`);
    if (lead.IsConverted) throw new Error(`Lead ${leadId} is already converted`);
    const accountId = this.seed('Account', { Name: lead.Company ?? lead.LastName });
    const contactId = this.seed('Contact', {
      FirstName: lead.FirstName,
      LastName: lead.LastName,
      Email: lead.Email,
      Phone: lead.Phone,
      Title: lead.Title,
      LeadSource: lead.LeadSource,
      AccountId: accountId,
    });
    Object.assign(lead, {
      IsConverted: true,
      ConvertedContactId: contactId,
      ConvertedAccountId: accountId,
      ConvertedDate: new Date().toISOString().slice(0, 10),
      Status: 'Closed - Converted',
    });
    for (const task of this.table('Task').values()) if (task.WhoId === leadId) task.WhoId = contactId;
    return { leadId, contactId, accountId };
  }

  /**
   * Deletes a record as a user or `DELETE /sobjects/Type/Id` does: into the
   * Recycle Bin, with the Tasks that name it (WhoId), as Salesforce deletes a
   * Lead's or Contact's activities with it. False when there is no such live record.
   */
  delete(object: string, id: string): boolean {
    const full = this.fullId(object, id);
    if (!full) return false;
    const record = this.table(object).get(full)!;
    this.table(object).delete(full);
    this.bin.set(full, { ...record, IsDeleted: true, object });
    for (const task of [...this.table('Task').values()])
      if (typeof task.WhoId === 'string' && task.WhoId.slice(0, 15) === full.slice(0, 15))
        this.delete('Task', task.Id);
    return true;
  }

  /** Whether this id (15 or 18 characters) is a record in the Recycle Bin. */
  isDeleted(id: string): boolean {
    return [...this.bin.keys()].some((full) => full.slice(0, 15) === id.slice(0, 15));
  }

  /* ---------------- saving ---------------- */

  /** Field names as the request wrote them, checked against the object (a bad name refuses the whole request). */
  bodyFields(object: string, body: unknown): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new RequestError(400, [
        { errorCode: 'JSON_PARSER_ERROR', message: 'The request body must be a JSON object' },
      ]);
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
      if (name === 'attributes') continue;
      const field = this.canonicalField(object, name, 'write');
      const def = this.schemaOf(object)[field]!;
      if (value !== null && typeof value === 'object')
        throw new RequestError(400, [
          {
            errorCode: 'JSON_PARSER_ERROR',
            message: `Cannot deserialize instance of ${def.type} from START_OBJECT value`,
          },
        ]);
      if (def.type === 'date' && value !== null && !/^\d{4}-\d{2}-\d{2}$/.test(String(value)))
        throw new RequestError(400, [
          {
            errorCode: 'JSON_PARSER_ERROR',
            message: `Cannot deserialize instance of date from VALUE_STRING value ${String(value)} or request may be missing a required field`,
          },
        ]);
      fields[field] = value === '' ? null : value;
    }
    return fields;
  }

  computeFields(object: string, record: SandboxRecord): void {
    if (object === 'Lead' || object === 'Contact')
      record.Name = [record.FirstName, record.LastName]
        .filter((part) => typeof part === 'string' && part)
        .join(' ');
    if (object === 'Task') record.IsClosed = record.Status === 'Completed';
  }

  /* ---------------- helpers ---------------- */

  schemaOf(object: string): Record<string, FieldDef> {
    const schema = this.schema[object];
    if (!schema) throw new Error(`the sandbox has no object ${object}`);
    return schema;
  }

  table(object: string): Map<string, SandboxRecord> {
    let table = this.store.get(object);
    if (!table) {
      this.schemaOf(object);
      table = new Map();
      this.store.set(object, table);
    }
    return table;
  }

  canonicalObject(name: string): string | undefined {
    return Object.keys(this.schema).find((object) => object.toLowerCase() === name.toLowerCase());
  }

  requireObject(name: string): void {
    if (!this.schema[name])
      throw new RequestError(404, [
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ]);
  }

  canonicalField(object: string, name: string, use: 'select' | 'filter' | 'write'): string {
    const field = Object.keys(this.schemaOf(object)).find((f) => f.toLowerCase() === name.toLowerCase());
    if (field) return field;
    const message =
      use === 'write'
        ? `No such column '${name}' on sobject of type ${object}`
        : `No such column '${name}' on entity '${object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`;
    if (use === 'write')
      throw new RequestError(400, [{ errorCode: 'INVALID_FIELD', message, fields: [name] }]);
    throw new SoqlError('INVALID_FIELD', message);
  }

  externalIdField(object: string, name: string): string {
    const field = Object.keys(this.schemaOf(object)).find((f) => f.toLowerCase() === name.toLowerCase());
    if (!field || !this.schemaOf(object)[field]!.externalId)
      throw new RequestError(404, [
        {
          errorCode: 'NOT_FOUND',
          message: `Provided external ID field does not exist or is not accessible: ${name}`,
        },
      ]);
    return field;
  }

  isIdOf(value: string, object: string): boolean {
    return /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(value) && value.startsWith(PREFIXES[object] ?? '~');
  }

  fullId(object: string, id: string): string | undefined {
    const table = this.table(object);
    if (table.has(id)) return id;
    return [...table.keys()].find((full) => full.slice(0, 15) === id.slice(0, 15));
  }

  find(id: string): { object: string; record: SandboxRecord } | undefined {
    for (const [object, table] of this.store) {
      const full = this.fullId(object, id);
      if (full) return { object, record: table.get(full)! };
    }
    return undefined;
  }

  recordUrl(object: string, id: string, version: number): string {
    return `/services/data/v${version.toFixed(1)}/sobjects/${object}/${id}`;
  }

  /** 18-character ids with the object's key prefix and Salesforce's case-checksum suffix. */
  newId(object: string): string {
    const prefix = PREFIXES[object] ?? '000';
    this.counter++;
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let n = this.counter;
    let body = '';
    while (n > 0) {
      body = digits[n % 62]! + body;
      n = Math.floor(n / 62);
    }
    const id15 = `${prefix}5g${body.padStart(10, '0')}`;
    return id15 + checksum(id15);
  }

  snapshot(): OrgSnapshot {
    return {
      live: new Map(
        [...this.store].map(([object, table]) => [
          object,
          new Map([...table].map(([id, r]) => [id, structuredClone(r)])),
        ]),
      ),
      bin: new Map([...this.bin].map(([id, r]) => [id, structuredClone(r)])),
    };
  }

  restore(snapshot: OrgSnapshot): void {
    this.store.clear();
    for (const [object, table] of snapshot.live) this.store.set(object, table);
    this.bin = snapshot.bin;
  }
}

function checksum(id15: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id15[chunk * 5 + i]!)) bits |= 1 << i;
    suffix += alphabet[bits];
  }
  return suffix;
}

export function sameText(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}
