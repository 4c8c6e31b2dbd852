import type {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
} from '@slack/web-api';
import { type DeliveryError, isRetryableStatus, PermanentError, RetryableError } from '../errors.ts';
import { transportFailure } from '../transport-failure.ts';

// The SDK's errors are told apart by their `code` (its ErrorCode values),
// not by `instanceof`: that needs the SDK's classes loaded when the
// configuration is read, and holds only while the SDK ships one build (CJS
// today) rather than separate ESM and CJS copies of its classes.
const hasCode =
  <T>(code: string) =>
  (error: unknown): error is T =>
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
const isPlatformError = hasCode<WebAPIPlatformError>('slack_webapi_platform_error');
const isRateLimitedError = hasCode<WebAPIRateLimitedError>('slack_webapi_rate_limited_error');
const isHttpError = hasCode<WebAPIHTTPError>('slack_webapi_http_error');
const isRequestError = hasCode<WebAPIRequestError>('slack_webapi_request_error');

/** What went wrong is about the channel: every alert to it fails the same way until an admin acts. */
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived']);

/** What went wrong is about the token or app: every alert fails until an admin acts. */
const TOKEN_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'ekm_access_denied',
  'team_access_not_granted',
]);

/** Slack's own "try again" answers (HTTP 200 with ok:false). */
const RETRYABLE_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

/** The error and how far it reaches: this alert only, every alert to this channel, or every alert. */
export interface SlackFailure {
  error: DeliveryError;
  scope: 'message' | 'channel' | 'token';
}

/**
 * Turns what `@slack/web-api` threw into a {@link DeliveryError} whose
 * message tells the admin what to do ("invite the bot to #sales"). The SDK
 * runs with retries off, so this is the only retry policy: rate limits, 5xx,
 * timeouts and Slack's `internal_error` are retryable; a missing channel,
 * a bot outside the channel, a bad token or invalid blocks are not.
 */
export function slackFailure(error: unknown, channel: string, connector: string): SlackFailure {
  if (isPlatformError(error)) {
    const code = error.data.error;
    const detail = platformDetail(error);
    if (RETRYABLE_ERRORS.has(code)) {
      const retryAfter = error.data.response_metadata?.retryAfter;
      return {
        scope: 'message',
        error: new RetryableError(`Slack answered ${code}${detail}`, {
          response: code,
          ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter * 1000 }),
          cause: error,
        }),
      };
    }
    const scope = CHANNEL_ERRORS.has(code) ? 'channel' : TOKEN_ERRORS.has(code) ? 'token' : 'message';
    return {
      scope,
      error: new PermanentError(`${code}: ${hint(code, channel, connector, error)}${detail}`, {
        response: code,
        cause: error,
      }),
    };
  }
  if (isRateLimitedError(error)) {
    return {
      scope: 'message',
      error: new RetryableError(`Slack rate limit for ${channel}: retry after ${error.retryAfter} s`, {
        statusCode: 429,
        retryAfterMs: error.retryAfter * 1000,
        cause: error,
      }),
    };
  }
  if (isHttpError(error)) {
    const body = typeof error.body === 'string' ? error.body.slice(0, 300) : '';
    const message = `HTTP ${error.statusCode} from Slack${body ? `: ${body}` : ''}`;
    const options = { statusCode: error.statusCode, response: body, cause: error };
    return {
      scope: 'message',
      error: isRetryableStatus(error.statusCode)
        ? new RetryableError(message, options)
        : new PermanentError(message, options),
    };
  }
  if (isRequestError(error)) {
    const failure = transportFailure(error.original);
    const reason =
      failure?.kind === 'timeout' ? 'timed out' : (failure?.reason ?? (error.original as Error).message);
    return {
      scope: 'message',
      error: new RetryableError(`could not reach Slack: ${reason}`, { cause: error }),
    };
  }
  // E.g. a 429 without a usable Retry-After, which the SDK reports as a plain Error.
  return {
    scope: 'message',
    error: new RetryableError(`Slack call failed: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    }),
  };
}

/** What the admin should do about a Slack error code. */
function hint(code: string, channel: string, connector: string, error: WebAPIPlatformError): string {
  const where = `connectors/${connector}.yaml`;
  switch (code) {
    case 'channel_not_found':
      return `Slack has no channel ${channel} that this bot can see — check \`channel\` in ${where}; for a private channel, invite the bot first (/invite @your-bot in ${channel})`;
    case 'not_in_channel':
      return `the bot is not a member of ${channel} — invite the bot to ${channel} (/invite @your-bot), or add the chat:write.public scope to post without joining`;
    case 'is_archived':
      return `${channel} is archived — unarchive it or pick another channel in ${where}`;
    case 'invalid_auth':
    case 'not_authed':
      return `Slack rejected the bot token — check \`token\` in ${where} (a Bot User OAuth token, xoxb-…)`;
    case 'account_inactive':
      return `the token belongs to a deactivated user or an uninstalled app — reinstall the Slack app and update \`token\` in ${where}`;
    case 'token_revoked':
    case 'token_expired':
      return `the bot token was revoked or expired — reinstall the Slack app and update \`token\` in ${where}`;
    case 'missing_scope': {
      const needed = (error.data as { needed?: unknown }).needed;
      return `the bot token lacks a scope${typeof needed === 'string' ? ` (${needed})` : ''} — add it under OAuth & Permissions and reinstall the app`;
    }
    case 'invalid_blocks':
    case 'invalid_blocks_format':
      return `Slack refused the message blocks — check \`messages.*.blocks\` in ${where}`;
    case 'msg_too_long':
      return 'the message text is too long for Slack';
    default:
      return 'Slack refused the message';
  }
}

/** Slack's own explanation (`response_metadata.messages`, `errors`), when it gave one. */
function platformDetail(error: WebAPIPlatformError): string {
  const data = error.data as { errors?: unknown; response_metadata?: { messages?: unknown } };
  const messages = [
    ...(Array.isArray(data.response_metadata?.messages) ? data.response_metadata.messages : []),
    ...(Array.isArray(data.errors) ? data.errors : []),
  ].map(String);
  return messages.length > 0 ? ` (${messages.join('; ').slice(0, 500)})` : '';
}
