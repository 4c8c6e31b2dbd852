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
      preview: (context) => [maskConfigured(settings, buildRequest(settings, context, environment.now()))],
      async deliver(context) {
        const request = buildRequest(settings, context, environment.now());
        const unsendable = unsendableHeader(request.headers);
        if (unsendable)
          // Never sendable, however often retried; the value (event data) is not repeated here.
          throw new PermanentError(
            `header "${unsendable}" rendered a value that cannot be sent (a line break, NUL or other control character from the event) — check \`headers\` in connectors/${name}.yaml`,
          );
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

/** Headers that never carry a credential; every other header configured as a fixed value is masked. */
const PLAIN_HEADERS = new Set(['content-type', 'accept', 'user-agent', 'webhook-id', 'webhook-timestamp']);

/**
 * What the preview may show of what the admin configured: a header with a
 * fixed value (an API key under any name, `X-Auth-Key` included) and the
 * URL's password and query values are credentials until shown otherwise;
 * headers rendered from the event stay visible, since checking them is what
 * a preview is for.
 */
function maskConfigured(settings: WebhookSettings, request: PlannedRequest): PlannedRequest {
  const headers = { ...request.headers };
  for (const [header, template] of Object.entries(settings.headers)) {
    const key = header.toLowerCase();
    const shown = Object.keys(headers).find((candidate) => candidate.toLowerCase() === key);
    if (shown && !PLAIN_HEADERS.has(key) && !/\{\{|\{%/.test(template.source)) {
      // The scheme says how it authenticates, and is no secret.
      const scheme = /^(Bearer|Basic|Token)\s/i.exec(headers[shown] ?? '')?.[1];
      headers[shown] = scheme ? `${scheme} ••••••` : '••••••';
    }
  }
  if (headers['webhook-signature']) headers['webhook-signature'] = 'v1,…(computed at send time)';
  return { ...request, url: maskUrl(request.url), headers, body: tryJson(request.body as string) };
}

/** `https://user:••••••@host/path?key=••••••`: the URL's password and query values hidden. */
export function maskUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const auth = parsed.username ? `${parsed.username}${parsed.password ? ':••••••' : ''}@` : '';
  const query = [...new Set(parsed.searchParams.keys())].map((key) => `${encodeURIComponent(key)}=••••••`);
  return `${parsed.protocol}//${auth}${parsed.host}${parsed.pathname}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}

/** The name of a header whose value fetch would refuse (or that would split the request), if any. */
function unsendableHeader(headers: Record<string, string> | undefined): string | undefined {
  for (const [header, value] of Object.entries(headers ?? {})) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return header;
  }
  return undefined;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
