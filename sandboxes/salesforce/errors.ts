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
