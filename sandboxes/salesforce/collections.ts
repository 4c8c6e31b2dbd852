import { type Answer, RequestError } from './errors.ts';
import { type SandboxOrg, sameText } from './records.ts';
import type { SandboxRules, SaveResult } from './rules.ts';

export function collection(
  org: SandboxOrg,
  rules: SandboxRules,
  kind: 'create' | 'update' | 'upsert',
  body: unknown,
  upsertObject?: string,
  upsertField?: string,
): Answer {
  const request = (body ?? {}) as { allOrNone?: boolean; records?: unknown };
  if (!Array.isArray(request.records))
    throw new RequestError(400, [{ errorCode: 'JSON_PARSER_ERROR', message: 'records is required' }]);
  if (request.records.length > 200)
    throw new RequestError(400, [
      {
        errorCode: 'EXCEEDED_ID_LIMIT',
        message: 'record limit reached. cannot submit more than 200 records into this call',
      },
    ]);
  const field = upsertObject && upsertField ? org.externalIdField(upsertObject, upsertField) : undefined;
  // Field names and types are checked for the whole request first, as Salesforce deserializes it first.
  const parsed = request.records.map((item) => {
    const record = (item ?? {}) as Record<string, unknown>;
    const attributes = record.attributes as { type?: string } | undefined;
    const object = upsertObject ?? attributes?.type;
    if (!object)
      throw new RequestError(400, [
        { errorCode: 'INVALID_TYPE', message: 'Must specify a type in the attributes map' },
      ]);
    org.requireObject(object);
    const { id, Id, ...rest } = record;
    return { object, id: (id ?? Id) as string | undefined, fields: org.bodyFields(object, rest) };
  });
  const snapshot = request.allOrNone ? org.snapshot() : undefined;
  const results: Record<string, unknown>[] = [];
  for (const { object, id, fields } of parsed) {
    let result: SaveResult;
    if (kind === 'create') {
      result = id
        ? {
            ok: false,
            errors: [
              {
                errorCode: 'INVALID_FIELD',
                message: 'cannot specify Id in an insert call',
                fields: ['Id'],
              },
            ],
          }
        : rules.save(object, fields, undefined, 'duplicateResult');
    } else if (kind === 'update') {
      const full = id ? org.fullId(object, id) : undefined;
      result = full
        ? rules.save(object, fields, full, 'duplicateResult')
        : id && org.isDeleted(id)
          ? {
              ok: false,
              errors: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
            }
          : {
              ok: false,
              errors: [
                {
                  errorCode: 'MALFORMED_ID',
                  message: `${object} ID: id value of incorrect type: ${id}`,
                  fields: ['Id'],
                },
              ],
            };
    } else {
      const value = fields[field!];
      const matches =
        typeof value === 'string'
          ? [...org.table(object).values()].filter((r) => sameText(r[field!], value))
          : [];
      if (typeof value !== 'string' || value === '')
        result = {
          ok: false,
          errors: [
            {
              errorCode: 'REQUIRED_FIELD_MISSING',
              message: `Required fields are missing: [${field}]`,
              fields: [field!],
            },
          ],
        };
      else if (matches.length > 1)
        result = {
          ok: false,
          errors: [
            {
              errorCode: 'DUPLICATE_EXTERNAL_ID',
              message: `${field}: more than one record found for external id field: [${matches.map((m) => m.Id).join(', ')}]`,
              fields: [field!],
            },
          ],
        };
      else result = rules.save(object, fields, matches[0]?.Id, 'duplicateResult');
    }
    results.push(
      result.ok
        ? {
            id: result.id,
            success: true,
            errors: [],
            ...(kind === 'upsert' ? { created: result.created } : {}),
          }
        : {
            success: false,
            errors: result.errors.map(({ errorCode, ...rest }) => ({ statusCode: errorCode, ...rest })),
          },
    );
  }
  if (snapshot && results.some((result) => !result.success)) {
    org.restore(snapshot);
    for (const result of results)
      if (result.success)
        Object.assign(result, {
          id: undefined,
          success: false,
          errors: [
            {
              statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              message:
                'Record rolled back because not all records were valid and the request was using AllOrNone header',
              fields: [],
            },
          ],
        });
  }
  return { status: 200, body: results };
}
