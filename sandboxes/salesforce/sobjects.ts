import { type Answer, entityIsDeleted, notFound } from './errors.ts';
import { type SandboxOrg, sameText } from './records.ts';
import type { SandboxRules } from './rules.ts';

export function retrieve(org: SandboxOrg, object: string, id: string, version: number): Answer {
  const record = org.table(object).get(org.fullId(object, id) ?? '');
  if (!record) return org.isDeleted(id) ? entityIsDeleted() : notFound();
  return {
    status: 200,
    body: { attributes: { type: object, url: org.recordUrl(object, record.Id, version) }, ...record },
  };
}

export function remove(org: SandboxOrg, object: string, id: string): Answer {
  if (org.delete(object, id)) return { status: 204 };
  return org.isDeleted(id) ? entityIsDeleted() : notFound();
}

export function createOne(org: SandboxOrg, rules: SandboxRules, object: string, body: unknown): Answer {
  const fields = org.bodyFields(object, body);
  const result = rules.save(object, fields, undefined, 'duplicateResut');
  if (!result.ok) return { status: 400, body: result.errors };
  return { status: 201, body: { id: result.id, success: true, errors: [] } };
}

export function updateOne(
  org: SandboxOrg,
  rules: SandboxRules,
  object: string,
  id: string,
  body: unknown,
): Answer {
  const full = org.fullId(object, id);
  if (!full) return org.isDeleted(id) ? entityIsDeleted() : notFound();
  const result = rules.save(object, org.bodyFields(object, body), full, 'duplicateResut');
  if (!result.ok) return { status: 400, body: result.errors };
  return { status: 204 };
}

export function upsertOne(
  org: SandboxOrg,
  rules: SandboxRules,
  object: string,
  fieldName: string,
  value: string,
  body: unknown,
  version: number,
): Answer {
  const field = org.externalIdField(object, fieldName);
  const fields = org.bodyFields(object, body);
  const matches = [...org.table(object).values()].filter((r) => sameText(r[field], value));
  if (matches.length > 1)
    return { status: 300, body: matches.map((record) => org.recordUrl(object, record.Id, version)) };
  const existing = matches[0];
  const result = rules.save(
    object,
    existing ? fields : { ...fields, [field]: value },
    existing?.Id,
    'duplicateResut',
  );
  if (!result.ok) return { status: 400, body: result.errors };
  const answer = { id: result.id, success: true, errors: [], created: result.created };
  if (result.created) return { status: 201, body: answer };
  return version >= 46 ? { status: 200, body: answer } : { status: 204 };
}
