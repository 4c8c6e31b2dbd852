import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import { httpStatusOf, transportFailure } from '../transport-failure.ts';

/** The parts of the SDK's ApiException that carry HubSpot's answer. */
interface ApiExceptionLike {
  body?: {
    message?: string;
    category?: string;
    errors?: { message?: string; code?: string; context?: Record<string, unknown> }[];
  };
  headers?: Record<string, string>;
}

/**
 * HubSpot's answer, as a typed error an admin can act on: which property to
 * create, which scope to grant, when to retry. Everything not recognised as
 * permanent is retryable, so an unknown failure is never dropped.
 */
export function hubspotError(error: unknown, what: string, now = Date.now()): DeliveryError {
  if (error instanceof PermanentError || error instanceof RetryableError) return error;
  const status = httpStatusOf(error);
  if (status === undefined) {
    // No answer from HubSpot: a dropped connection, a timeout, or something unforeseen, all worth a retry.
    const reason = transportFailure(error)?.reason ?? (error as Error)?.message ?? String(error);
    return new RetryableError(`could not reach HubSpot while ${what}: ${reason}`, { cause: error });
  }
  const { body: rawBody, headers } = error as ApiExceptionLike;
  const body = rawBody && typeof rawBody === 'object' ? rawBody : {};
  const message = body.message ?? `HTTP ${status}`;
  const response = JSON.stringify(body).slice(0, 500);
  const options = { statusCode: status, response, cause: error };

  if (status === 401) {
    const expired = body.category === 'EXPIRED_AUTHENTICATION';
    return new PermanentError(
      `HubSpot ${expired ? 'token expired' : 'token invalid or missing'} (${what}): ${message} — set a valid private-app token in access_token`,
      options,
    );
  }
  if (status === 403) {
    const scopes = (body.errors ?? []).flatMap(
      (e) => (e.context?.requiredGranularScopes as string[] | undefined) ?? [],
    );
    const scopeText = scopes.length > 0 ? `missing scope ${scopes.join(', ')}` : 'missing a required scope';
    return new PermanentError(
      `HubSpot token ${scopeText} (${what}): ${message} — grant it to the private app`,
      options,
    );
  }
  if (status === 429) {
    const daily = /daily/i.test(message) || headers?.['x-hubspot-ratelimit-daily-remaining'] === '0';
    const retryAfterMs = daily ? untilNextUtcMidnight(now) : 2_000;
    return new RetryableError(
      `HubSpot ${daily ? 'daily' : 'ten-second'} rate limit reached (${what}): ${message}`,
      {
        ...options,
        retryAfterMs,
      },
    );
  }
  if (status === 400) return new PermanentError(validationMessage(body, what), options);
  if (status >= 500 || status === 408)
    return new RetryableError(`HubSpot answered ${status} (${what}): ${message}`, options);
  return new PermanentError(`HubSpot answered ${status} (${what}): ${message}`, options);
}

/** "HubSpot rejected property "favorite_color": Property "favorite_color" does not exist — …" */
export function validationMessage(body: NonNullable<ApiExceptionLike['body']>, what: string): string {
  const details = (body.errors ?? []).map((detail) => {
    const names = (detail.context?.propertyName as string[] | undefined) ?? [];
    const hint =
      detail.code === 'PROPERTY_DOESNT_EXIST' ? ' (create it in HubSpot, or remove it from properties)' : '';
    return `${names.length > 0 ? `property "${names.join('", "')}": ` : ''}${detail.message ?? detail.code}${hint}`;
  });
  return `HubSpot rejected the ${what}: ${details.length > 0 ? details.join('; ') : (body.message ?? 'validation error')}`;
}

function untilNextUtcMidnight(now: number): number {
  const next = new Date(now);
  next.setUTCHours(24, 0, 0, 0);
  return next.getTime() - now + 60_000;
}
