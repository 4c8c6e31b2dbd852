import { z } from 'zod';
import { duration } from '../src/util/duration.ts';

/**
 * Keys every connector type accepts, with per-type defaults: how many
 * deliveries run at once, the destination's rate limit, and the timeout of
 * one call. `rate_limit: off` removes a default limit.
 *
 * @example
 * settings: z.strictObject({ ...commonSettings({ concurrency: 4, rate: { requests: 100, per: '10s' } }), url: z.url() })
 */
export function commonSettings(defaults: {
  concurrency: number;
  rate?: { requests: number; per: string };
  timeout?: string;
}) {
  const rate = z.strictObject({ requests: z.number().int().min(1), per: duration });
  return {
    concurrency: z.number().int().min(1).max(100).default(defaults.concurrency),
    rate_limit: z
      .union([rate, z.literal('off')])
      .optional()
      .transform((value) =>
        value === 'off' ? undefined : (value ?? (defaults.rate ? rate.parse(defaults.rate) : undefined)),
      ),
    timeout: duration.prefault(defaults.timeout ?? '10s'),
  };
}

/** The engine's view of the common settings. */
export function limitsFrom(
  settings: { concurrency: number; rate_limit: { requests: number; per: number } | undefined },
  batchSize = 1,
) {
  return {
    concurrency: settings.concurrency,
    rate: settings.rate_limit
      ? { requests: settings.rate_limit.requests, perMs: settings.rate_limit.per }
      : undefined,
    batchSize,
  };
}
