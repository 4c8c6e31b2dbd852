import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { EVENT_TYPES } from '../event/canonical-event.ts';
import { PRESET_NAMES, SOURCE_PRESETS } from '../ingest/presets/index.ts';
import { sourceMapSchema } from '../ingest/source-mapping.ts';
import { signedHeaders } from '../ingest/verify/signed-headers.ts';
import { duration } from '../util/duration.ts';
import { parseSize } from '../util/units.ts';
import { databaseSchema } from './database-schema.ts';

export { duration };

const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (examples: 512kb, 1mb)` });
    return z.NEVER;
  }
  return bytes;
});

/** An IPv4/IPv6 address or CIDR block. */
export const cidr = z
  .string()
  .refine(isCidr, { message: 'is not an IP address or CIDR block (e.g. 203.0.113.0/24)' });

function isCidr(text: string): boolean {
  const [address, prefix] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(prefix) || bits > max) return false;
  new BlockList().addSubnet(address!, bits, family === 4 ? 'ipv4' : 'ipv6');
  return true;
}

const secrets = z.array(z.string().min(1, 'a secret must not be empty')).min(1, 'list at least one secret');

const standardWebhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'a Standard Webhooks secret looks like whsec_ followed by base64');

const verifyStandardWebhooks = z.strictObject({
  scheme: z.literal('standard-webhooks'),
  secrets: z.array(standardWebhookSecret).min(1, 'list at least one secret'),
  tolerance: duration.prefault('5m'),
});

const verifyHmac = z
  .strictObject({
    scheme: z.literal('hmac'),
    secrets,
    header: z.string().min(1),
    prefix: z.string().default(''),
    encoding: z.enum(['hex', 'base64']).default('hex'),
    algorithm: z.enum(['sha256', 'sha1', 'sha512']).default('sha256'),
    signed_content: z
      .string()
      .refine((text) => text.includes('{body}'), { message: 'must contain {body}' })
      .default('{body}'),
    timestamp_header: z.string().optional(),
    /**
     * The signature header is `key=value` pairs separated by commas, with the
     * timestamp and the signature(s) under these keys, e.g. Tidio's
     * `t=…,s=…[,s=…]`: `{ timestamp: t, signature: s }`. Replaces `timestamp_header`.
     */
    header_fields: z.strictObject({ timestamp: z.string().min(1), signature: z.string().min(1) }).optional(),
    tolerance: duration.prefault('5m'),
  })
  .refine((verify) => !(verify.header_fields && verify.timestamp_header), {
    message: 'give either `timestamp_header` or `header_fields`, not both',
    path: ['header_fields'],
  })
  .refine(
    (verify) =>
      !(verify.header_fields || verify.timestamp_header) || verify.signed_content.includes('{timestamp}'),
    {
      message:
        'a timestamp is read but not signed: add {timestamp} to `signed_content` (as the platform documents it), or the tolerance protects nothing — anyone could replay a request with a fresh timestamp',
      path: ['signed_content'],
    },
  );

/** Headers a template reads (`headers['x-…']`, `headers.x_y`) that the signature does not cover. */
function unsignedHeadersIn(
  template: string,
  verify: { scheme: string; signed_content?: string; timestamp_header?: string | undefined },
): string[] {
  const signed = new Set(signedHeaders(verify));
  const used = [...template.matchAll(/headers\s*(?:\[\s*['"]([^'"]+)['"]\s*\]|\.([A-Za-z0-9_-]+))/g)].map(
    (match) => (match[1] ?? match[2] ?? '').toLowerCase(),
  );
  return [...new Set(used)].filter((name) => !signed.has(name));
}

const verifyToken = z.strictObject({
  scheme: z.literal('token'),
  header: z.string().min(1),
  secrets,
});

const verifyNone = z.strictObject({ scheme: z.literal('none') });

/** A shared token inside the JSON body (Drift's verification `token`), compared in constant time. */
const verifyBodyToken = z.strictObject({
  scheme: z.literal('body_token'),
  /** Dotted path of the token in the body, e.g. `token`. */
  field: z.string().min(1),
  secrets,
});

export const verifySchema = z.preprocess(
  // `standard-webhooks` is the default scheme (SPEC §2), so it may be left out.
  (value) =>
    value && typeof value === 'object' && !('scheme' in value)
      ? { scheme: 'standard-webhooks', ...value }
      : value,
  z.discriminatedUnion('scheme', [
    verifyStandardWebhooks,
    verifyHmac,
    verifyToken,
    verifyBodyToken,
    verifyNone,
  ]),
);

/**
 * `format: chatwoot` (a preset) fills in the preset's `map` and its verify
 * scheme settings; the admin's own `verify:` keys (secrets, or a different
 * scheme altogether) and `map:` win (docs/sources.md).
 */
function applyPreset(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  const format = source.format;
  if (typeof format !== 'string' || !Object.hasOwn(SOURCE_PRESETS, format)) return value;
  const preset = SOURCE_PRESETS[format as keyof typeof SOURCE_PRESETS];
  const result: Record<string, unknown> = { ...source, map: source.map ?? preset.map };
  const verify = source.verify;
  if (preset.verify && verify && typeof verify === 'object' && !Array.isArray(verify)) {
    const own = verify as Record<string, unknown>;
    if (own.scheme === undefined || own.scheme === preset.verify.scheme) {
      result.verify = { ...preset.verify, ...own };
    }
  }
  return result;
}

const sourceSchema = z.preprocess(
  applyPreset,
  z
    .strictObject({
      /** `canonical` (SPEC §3 as is), `mapped` (your own `map:`), or a preset name. */
      format: z.enum(['canonical', 'mapped', ...PRESET_NAMES]).default('canonical'),
      verify: verifySchema,
      /** Templates that build the canonical event from the platform's payload (docs/sources.md). */
      map: sourceMapSchema.optional(),
      /** The platform's own web address (e.g. `https://chat.acme.example` for Chatwoot), for links back into it. */
      base_url: z
        .url({ protocol: /^https?$/, error: 'an http(s) URL such as https://chat.acme.example' })
        .transform((url) => url.replace(/\/+$/, ''))
        .optional(),
      insecure: z.boolean().default(false),
      allow_ips: z.array(cidr).optional(),
    })
    .superRefine((source, ctx) => {
      if (source.format === 'mapped' && !source.map) {
        ctx.addIssue({ code: 'custom', path: ['map'], message: 'format "mapped" needs a `map:` block' });
      }
      if (source.format === 'canonical' && source.map) {
        ctx.addIssue({
          code: 'custom',
          path: ['format'],
          message: 'a `map:` is only used with `format: mapped` or a preset',
        });
      }
      const unsigned = source.map?.id ? unsignedHeadersIn(source.map.id.source, source.verify) : [];
      if (unsigned.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['map', 'id'],
          message: `the id uses ${unsigned.map((name) => `headers['${name}']`).join(', ')}, which the signature does not cover: a captured request re-sent with a new value would be stored again. Build the id from the payload (the body is what is signed)`,
        });
      }
      if (source.verify.scheme === 'none' && !source.insecure) {
        ctx.addIssue({
          code: 'custom',
          path: ['verify', 'scheme'],
          message:
            'scheme "none" accepts unsigned requests from anyone; add `insecure: true` to the source to allow it',
        });
      }
    }),
);

const eventTypeOrAll = z.enum([...EVENT_TYPES, '*']);

const routeSchema = z.strictObject({
  on: z.union([eventTypeOrAll, z.array(eventTypeOrAll).min(1)]),
  from: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  when: z.string().min(1, 'the condition is empty (leave out when: to take every event)').optional(),
  to: z.array(z.string().min(1)).min(1, 'name at least one connector'),
});

export const mainConfigSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(3000),
      body_limit: size.prefault('1mb'),
      max_inflight: z.number().int().min(1).default(1000),
      /** Requests in flight from one client address (the forwarded one behind trusted proxies). */
      max_inflight_per_client: z.number().int().min(1).default(64),
      /** Request bodies held in memory at once, from everyone. */
      max_buffered: size.prefault('64mb'),
      /** A body must arrive within this after its headers… */
      body_timeout: duration.prefault('10s'),
      /** …and, after its first 2 s, at least this fast on average (per second). */
      min_body_rate: size.prefault('1kb'),
      request_timeout: duration.prefault('30s'),
      trusted_proxies: z.array(cidr).default([]),
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .prefault({}),
  database: databaseSchema,
  sources: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'source names use letters, digits, - and _'),
    sourceSchema,
  ),
  routes: z.array(routeSchema).default([]),
  mapping: z
    .strictObject({
      /** Region for phone numbers written without a country code (the `e164` filter), ISO 3166 alpha-2. */
      phone_region: z
        .string()
        .regex(/^[A-Za-z]{2}$/, 'a two-letter country code such as US or GB')
        .transform((code) => code.toUpperCase())
        .default('US'),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      retry_schedule: z
        .array(duration)
        .min(1)
        .prefault(['0s', '10s', '1m', '5m', '30m', '2h', '6h', '12h', '24h']),
      /** How long a worker holds a claimed delivery; a worker that dies gives its rows back after this. */
      lease: duration.prefault('60s'),
      /** How long SIGTERM waits for deliveries in flight before giving them back. */
      shutdown_timeout: duration.prefault('10s'),
      /** Fallback poll for retries and for work written by other processes. */
      poll_interval: duration.prefault('1s'),
      retention: z
        .strictObject({
          /** Delivered rows (and their attempts) older than this are deleted. */
          delivered: duration.prefault('30d'),
          /** Events older than this whose deliveries are all gone are deleted (ends their idempotency). */
          events: duration.prefault('90d'),
          /**
           * Dead rows (and their attempts) this long after they died are deleted, so their event
           * and its PII can go too. Unset (the default): kept until retried, never deleted.
           */
          dead: duration.optional(),
        })
        .prefault({}),
      /** Stops hammering a destination that fails every attempt (docs/operations.md). */
      breaker: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Every attempt to the connector failed (retryably) for this long → hold its deliveries back. */
          after_failing_for: duration.prefault('10m'),
          /** While held back, one delivery is tried this often; a success resumes the connector. */
          probe_interval: duration.prefault('30s'),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The drift watch: compares each source's recent payloads with the ones before (docs/operations.md). */
  drift_watch: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How often `serve` looks; alerts go through `alerts.to`. */
      interval: duration.prefault('1m'),
    })
    .prefault({}),
  /** Ops alerts through a connector when deliveries die or a connector keeps failing (docs/operations.md). */
  alerts: z
    .strictObject({
      /** The connector (`connectors/NAME.yaml`) that carries the alerts, e.g. a Slack #leadrelay-ops channel. */
      to: z.string().min(1),
      /** Alert when every attempt to a connector failed for this long (default: `delivery.breaker.after_failing_for`). */
      after_failing_for: duration.optional(),
      /** At most one alert per connector per this interval; the ones held back are counted in the next. */
      min_interval: duration.prefault('15m'),
      /** Alert when a delivery goes dead (default true). */
      on_dead: z.boolean().default(true),
      /** Link to the admin page, shown in alerts. */
      admin_url: z.url({ protocol: /^https?$/ }).optional(),
    })
    .optional(),
});

export type MainConfig = z.output<typeof mainConfigSchema>;
export type SourceConfig = MainConfig['sources'][string];
export type VerifyConfig = SourceConfig['verify'];
export type RouteConfig = MainConfig['routes'][number];
