import type { SfError } from './errors.ts';
import { type SandboxOrg, type SandboxRecord, sameText } from './records.ts';
import { DEFAULTS_ON_CREATE, PREFIXES, USER_ID } from './schema.ts';

export interface DuplicateRule {
  name?: string;
  /** Records are duplicates when all these fields are set and equal (case-insensitive). */
  fields: string[];
  /** Objects searched for duplicates (default: the object itself). */
  against?: string[];
}

export interface ValidationRule {
  name?: string;
  /** The message the admin wrote; Salesforce returns it as it is. */
  message: string;
  /** The field the error is shown at (none: at the top of the page). */
  field?: string;
  /** True when the record is invalid. */
  when: (record: Readonly<Record<string, unknown>>) => boolean;
}

export type SaveResult = { ok: true; id: string; created: boolean } | { ok: false; errors: SfError[] };

export class SandboxRules {
  private readonly duplicateRules = new Map<string, DuplicateRule>();
  private readonly validationRules = new Map<string, ValidationRule[]>();

  constructor(private readonly org: SandboxOrg) {}

  setDuplicateRule(object: string, rule: DuplicateRule | undefined): void {
    if (rule) this.duplicateRules.set(object, rule);
    else this.duplicateRules.delete(object);
  }

  addValidationRule(object: string, rule: ValidationRule): void {
    this.validationRules.set(object, [...(this.validationRules.get(object) ?? []), rule]);
  }

  /** Creates (no id) or updates a record, with every check Salesforce makes on save. */
  save(
    object: string,
    fields: Record<string, unknown>,
    id: string | undefined,
    duplicateKey: 'duplicateResut' | 'duplicateResult',
  ): SaveResult {
    const schema = this.org.schemaOf(object);
    const existing = id ? this.org.table(object).get(id) : undefined;
    if (id && !existing)
      return {
        ok: false,
        errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
      };
    const readonly = Object.keys(fields).filter((name) => schema[name]?.readonly);
    if (readonly.length > 0)
      return {
        ok: false,
        errors: [
          {
            errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE',
            message: `Unable to create/update fields: ${readonly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
            fields: readonly,
          },
        ],
      };
    if (object === 'Lead' && existing?.IsConverted)
      return {
        ok: false,
        errors: [
          {
            errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD',
            message: 'cannot reference converted lead',
            fields: [],
          },
        ],
      };
    const merged: Record<string, unknown> = { ...(existing ?? DEFAULTS_ON_CREATE[object] ?? {}), ...fields };
    const errors: SfError[] = [];
    const missing = Object.entries(schema)
      .filter(
        ([name, def]) =>
          def.required && (merged[name] === undefined || merged[name] === null || merged[name] === ''),
      )
      .map(([name]) => name);
    if (missing.length > 0)
      errors.push({
        errorCode: 'REQUIRED_FIELD_MISSING',
        message: `Required fields are missing: [${missing.join(', ')}]`,
        fields: missing,
      });
    for (const [name, value] of Object.entries(fields)) {
      if (value === null || value === undefined) continue;
      const def = schema[name]!;
      const text = String(value);
      if (def.type === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text))
        errors.push({
          errorCode: 'INVALID_EMAIL_ADDRESS',
          message: `${name}: invalid email address: ${text}`,
          fields: [name],
        });
      else if (def.length !== undefined && text.length > def.length)
        errors.push({
          errorCode: 'STRING_TOO_LONG',
          message: `${label(name)}: data value too large: ${text.slice(0, 40)}... (max length=${def.length})`,
          fields: [name],
        });
      else if (def.restricted && def.values && !def.values.includes(text))
        errors.push({
          errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
          message: `${label(name)}: bad value for restricted picklist field: ${text}`,
          fields: [name],
        });
      else if (def.type === 'reference' && name !== 'OwnerId') {
        const target = this.org.find(text);
        if (!target && this.org.isDeleted(text))
          errors.push({ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [name] });
        else if (!target || !(def.to ?? []).includes(target.object))
          errors.push(
            /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(text) &&
              target === undefined &&
              def.to?.some((o) => text.startsWith(PREFIXES[o] ?? '~'))
              ? {
                  errorCode: 'INVALID_CROSS_REFERENCE_KEY',
                  message: 'invalid cross reference id',
                  fields: [],
                }
              : {
                  errorCode: 'FIELD_INTEGRITY_EXCEPTION',
                  message: `${label(name)}: id value of incorrect type: ${text}`,
                  fields: [name],
                },
          );
      }
    }
    if (errors.length > 0) return { ok: false, errors };
    for (const rule of this.validationRules.get(object) ?? [])
      if (rule.when(merged))
        return {
          ok: false,
          errors: [
            {
              errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
              message: rule.message,
              fields: rule.field ? [rule.field] : [],
            },
          ],
        };
    const duplicates = this.duplicatesOf(object, merged, id);
    if (duplicates)
      return { ok: false, errors: [{ ...duplicates.error, [duplicateKey]: duplicates.detail }] };

    const now = new Date().toISOString();
    if (existing) {
      Object.assign(existing, fields, { LastModifiedDate: now });
      this.org.computeFields(object, existing);
      return { ok: true, id: existing.Id, created: false };
    }
    const newId = this.org.newId(object);
    const record: SandboxRecord = {
      OwnerId: USER_ID,
      ...merged,
      Id: newId,
      CreatedDate: now,
      LastModifiedDate: now,
    };
    this.org.computeFields(object, record);
    this.org.table(object).set(newId, record);
    return { ok: true, id: newId, created: true };
  }

  private duplicatesOf(object: string, record: Record<string, unknown>, selfId: string | undefined) {
    const rule = this.duplicateRules.get(object);
    if (!rule) return undefined;
    const values = rule.fields.map((field) => record[field]);
    if (values.some((value) => value === undefined || value === null || value === '')) return undefined;
    const matchResults = (rule.against ?? [object])
      .map((other) => {
        const found = [...this.org.table(other).values()].filter(
          (candidate) =>
            candidate.Id !== selfId &&
            !(other === 'Lead' && candidate.IsConverted) &&
            rule.fields.every((field, i) => sameText(candidate[field], values[i])),
        );
        return {
          entityType: other,
          errorMessage: null,
          matchEngine: 'ExactMatchEngine',
          matchRecords: found.map((candidate) => ({
            additionalInformation: [],
            fieldDiffs: [],
            matchConfidence: 100,
            record: {
              attributes: { type: other, url: this.org.recordUrl(other, candidate.Id, 62) },
              Id: candidate.Id,
            },
          })),
          rule: `${other}_Match_Rule`,
          size: found.length,
          success: true,
        };
      })
      .filter((result) => result.size > 0);
    if (matchResults.length === 0) return undefined;
    return {
      error: { errorCode: 'DUPLICATES_DETECTED', message: 'Use one of these records?', fields: [] },
      detail: {
        allowSave: false,
        duplicateRule: rule.name ?? `Standard_Rule_for_${object}s`,
        duplicateRuleEntityType: object,
        errorMessage: 'Use one of these records?',
        matchResults,
      },
    };
  }
}

/** Salesforce names fields by label in messages ("Name ID" for WhoId); close enough. */
function label(field: string): string {
  if (field === 'WhoId') return 'Name ID';
  if (field === 'WhatId') return 'Related To ID';
  return field;
}
