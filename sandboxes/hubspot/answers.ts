import { randomUUID } from 'node:crypto';
import { Conflict, type HubSpotRecord, ValidationFailure } from './state.ts';

// The shapes HubSpot answers with (records, batch results, errors), as its
// API reference documents them, for the sandbox's routes.

export function contactIdsOf(input: Record<string, unknown>): string[] {
  const associations = (input.associations ?? []) as {
    to?: { id?: string };
    types?: { associationTypeId?: number }[];
  }[];
  return associations
    .filter((association) => association.types?.some((type) => type.associationTypeId === 202))
    .map((association) => String(association.to?.id));
}

export function contactJson(contact: HubSpotRecord): Record<string, unknown> {
  return {
    id: contact.id,
    properties: contact.properties,
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
    archived: false,
  };
}

export function noteJson(note: HubSpotRecord): Record<string, unknown> {
  return {
    id: note.id,
    properties: note.properties,
    createdAt: note.createdAt,
    updatedAt: note.updatedAt,
    archived: false,
  };
}

export function batchAnswer(
  results: unknown[],
  errors: unknown[],
  okStatus: number,
): { status: number; body: unknown } {
  const now = new Date().toISOString();
  return {
    status: errors.length > 0 ? 207 : okStatus,
    body: {
      status: 'COMPLETE',
      results,
      ...(errors.length > 0 ? { numErrors: errors.length, errors } : {}),
      requestedAt: now,
      startedAt: now,
      completedAt: now,
    },
  };
}

export function notFoundError(ids: string[]): unknown {
  return {
    ...hubspotError(
      'OBJECT_NOT_FOUND',
      'Could not get some CONTACT objects, they may be deleted or not exist.',
    ),
    context: { ids },
  };
}

/** HubSpot's 429 for the rolling ten-second limit (it sends no Retry-After). */
export function tenSecondlyBody(): Record<string, unknown> {
  return {
    ...hubspotError('RATE_LIMITS', 'You have reached your ten_secondly_rolling limit.'),
    errorType: 'RATE_LIMIT',
    policyName: 'TEN_SECONDLY_ROLLING',
  };
}

/** The body of a 5xx when the fault names none: HubSpot's error shape, its usual wording per status. */
export function serverErrorBody(status: number): Record<string, unknown> {
  const messages: Record<number, string> = {
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return hubspotError('INTERNAL_ERROR', messages[status] ?? 'internal error');
}

export function hubspotError(category: string, message: string): Record<string, unknown> {
  return { status: 'error', message, correlationId: randomUUID(), category };
}

export function errorAnswer(error: unknown): { status: number; body: unknown } {
  if (error instanceof Conflict) return { status: 409, body: hubspotError('CONFLICT', error.message) };
  if (error instanceof ValidationFailure) {
    return { status: 400, body: { ...hubspotError(error.category, error.message), errors: error.errors } };
  }
  return { status: 500, body: hubspotError('INTERNAL_ERROR', (error as Error).message) };
}
