/**
 * A request leadrelay refuses, with the status code and the JSON error body
 * of SPEC §2. Nothing has been written when one of these is returned.
 */
export interface Rejection {
  status: number;
  error: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

export function reject(status: number, error: string, message: string, details?: unknown): Rejection {
  return details === undefined ? { status, error, message } : { status, error, message, details };
}
