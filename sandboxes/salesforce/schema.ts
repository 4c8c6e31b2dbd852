export type FieldType =
  | 'id'
  | 'string'
  | 'email'
  | 'phone'
  | 'url'
  | 'textarea'
  | 'picklist'
  | 'boolean'
  | 'reference'
  | 'date'
  | 'datetime';

export interface FieldDef {
  type: FieldType;
  length?: number;
  required?: boolean;
  readonly?: boolean;
  values?: string[];
  restricted?: boolean;
  externalId?: boolean;
  /** For references: the objects the id may point at. */
  to?: string[];
}

export const USER_ID = '005000000000001AAA';
const TASK_STATUSES = ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'];
const LEAD_STATUSES = [
  'Open - Not Contacted',
  'Working - Contacted',
  'Closed - Converted',
  'Closed - Not Converted',
];
export const PREFIXES: Record<string, string> = {
  Lead: '00Q',
  Contact: '003',
  Account: '001',
  Task: '00T',
  User: '005',
};

const timestamps: Record<string, FieldDef> = {
  CreatedDate: { type: 'datetime', readonly: true },
  LastModifiedDate: { type: 'datetime', readonly: true },
  OwnerId: { type: 'reference', to: ['User'] },
};

export function standardSchema(): Record<string, Record<string, FieldDef>> {
  return {
    Lead: {
      Id: { type: 'id', readonly: true },
      FirstName: { type: 'string', length: 40 },
      LastName: { type: 'string', length: 80, required: true },
      Name: { type: 'string', readonly: true },
      Company: { type: 'string', length: 255, required: true },
      Email: { type: 'email', length: 80 },
      Phone: { type: 'phone', length: 40 },
      MobilePhone: { type: 'phone', length: 40 },
      Title: { type: 'string', length: 128 },
      Website: { type: 'url', length: 255 },
      LeadSource: { type: 'picklist', length: 255 },
      Status: { type: 'picklist', values: LEAD_STATUSES, restricted: true },
      Industry: { type: 'picklist', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      IsConverted: { type: 'boolean', readonly: true },
      ConvertedContactId: { type: 'reference', readonly: true, to: ['Contact'] },
      ConvertedAccountId: { type: 'reference', readonly: true, to: ['Account'] },
      ConvertedDate: { type: 'date', readonly: true },
      ...timestamps,
    },
    Contact: {
      Id: { type: 'id', readonly: true },
      FirstName: { type: 'string', length: 40 },
      LastName: { type: 'string', length: 80, required: true },
      Name: { type: 'string', readonly: true },
      Email: { type: 'email', length: 80 },
      Phone: { type: 'phone', length: 40 },
      MobilePhone: { type: 'phone', length: 40 },
      Title: { type: 'string', length: 128 },
      LeadSource: { type: 'picklist', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      AccountId: { type: 'reference', to: ['Account'] },
      ...timestamps,
    },
    Account: {
      Id: { type: 'id', readonly: true },
      Name: { type: 'string', length: 255, required: true },
      Website: { type: 'url', length: 255 },
      ...timestamps,
    },
    Task: {
      Id: { type: 'id', readonly: true },
      Subject: { type: 'string', length: 255 },
      Description: { type: 'textarea', length: 32_000 },
      Status: { type: 'picklist', values: TASK_STATUSES, restricted: true },
      Priority: { type: 'picklist', values: ['High', 'Normal', 'Low'], restricted: true },
      WhoId: { type: 'reference', to: ['Lead', 'Contact'] },
      WhatId: { type: 'reference', to: ['Account'] },
      ActivityDate: { type: 'date' },
      Type: { type: 'picklist', length: 255 },
      TaskSubtype: { type: 'picklist', values: ['Task', 'Email', 'Call'], restricted: true },
      IsClosed: { type: 'boolean', readonly: true },
      ...timestamps,
    },
  };
}

export const DEFAULTS_ON_CREATE: Record<string, Record<string, unknown>> = {
  Lead: {
    Status: 'Open - Not Contacted',
    IsConverted: false,
    ConvertedContactId: null,
    ConvertedAccountId: null,
  },
  Task: { Status: 'Not Started', Priority: 'Normal', TaskSubtype: 'Task' },
};
