export interface SfError {
  message: string;
  errorCode: string;
  fields?: string[];
  duplicateResut?: unknown;
}

/** A whole request refused (a 4xx with Salesforce's error array). */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: SfError[],
  ) {
    super(errors[0]?.message);
  }
}

export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function notFound(): Answer {
  return {
    status: 404,
    body: [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }],
  };
}

/**
 * A request that names a record in the Recycle Bin. Salesforce answers a
 * PATCH of a deleted record `404 [{"message":"entity is deleted","errorCode":
 * "ENTITY_IS_DELETED","fields":[]}]` (as captured in
 * https://salesforce.stackexchange.com/questions/117370); GET and DELETE
 * answer the same here. An id that never existed (or was purged) is NOT_FOUND.
 */
export function entityIsDeleted(): Answer {
  return {
    status: 404,
    body: [{ errorCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }],
  };
}
