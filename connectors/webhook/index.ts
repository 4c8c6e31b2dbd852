import { renderFields } from '../../src/mapping/template.ts';
import { standardWebhookHeaders } from '../../src/util/standard-webhooks-signature.ts';
import { limitsFrom } from '../common-settings.ts';
import { isRetryableStatus, PermanentError, parseRetryAfter, RetryableError } from '../errors.ts';
import { transportFailure } from '../transport-failure.ts';
import { type DeliveryContext, defineConnectorType, type PlannedRequest } from '../types.ts';
import { type WebhookSettings, webhookSettings } from './settings.ts';

/**
 * Forwards the event, signed with Standard Webhooks, to any URL (n8n, Zapier,
 * an in-house service). `webhook-id` is leadrelay's event id, the same on
 * every retry, so the receiver can de-duplicate.
 */
export const webhookConnector = defineConnectorType({
  type: 'webhook',
  description: 'POST the event, signed with Standard Webhooks, to a URL',
  settings: webhookSettings,
  create(name, settings, environment) {
    return {
      name,
      type: 'webhook',
      limits: limitsFrom(settings),
      preview: (context) => [maskSignature(buildRequest(settings, context, environment.now()))],
      async deliver(context) {
        const request = buildRequest(settings, context, environment.now());
        let response: Response;
        try {
          response = await fetch(request.url, {
            method: 'POST',
            headers: request.headers,
            body: request.body as string,
            signal: AbortSignal.timeout(settings.timeout),
          });
        } catch (error) {
          const failure = transportFailure(error);
          const reason =
            failure?.kind === 'timeout'
              ? `timed out after ${settings.timeout} ms`
              : (failure?.reason ?? (error as Error).message);
          throw new RetryableError(`could not reach ${new URL(settings.url).host}: ${reason}`, {
            cause: error,
          });
        }
        const text = (await response.text().catch(() => '')).slice(0, 500);
        if (response.ok)
          return {
            summary: `HTTP ${response.status}`,
            statusCode: response.status,
            data: { status: response.status },
          };
        const options = {
          statusCode: response.status,
          response: text,
          retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), environment.now()),
        };
        const message = `HTTP ${response.status} from ${new URL(settings.url).host}${text ? `: ${text.slice(0, 200)}` : ''}`;
        if (isRetryableStatus(response.status)) throw new RetryableError(message, options);
        throw new PermanentError(message, options);
      },
    };
  },
});

function buildRequest(settings: WebhookSettings, context: DeliveryContext, nowMs: number) {
  const body = settings.body ? (settings.body.render(context.event) ?? '') : JSON.stringify(context.event);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'leadrelay',
    ...renderFields(settings.headers, context.event),
  };
  if (settings.secret)
    Object.assign(
      headers,
      standardWebhookHeaders(settings.secret, context.eventId, body, Math.floor(nowMs / 1000)),
    );
  else headers['webhook-id'] = context.eventId;
  return { method: 'POST', url: settings.url, headers, body } satisfies PlannedRequest;
}

function maskSignature(request: PlannedRequest): PlannedRequest {
  const headers = { ...request.headers };
  if (headers['webhook-signature']) headers['webhook-signature'] = 'v1,…(computed at send time)';
  return { ...request, headers, body: tryJson(request.body as string) };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
