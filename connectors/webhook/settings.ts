import { z } from 'zod';
import { templateField, templateMap } from '../../src/mapping/template-field.ts';
import { commonSettings } from '../common-settings.ts';

/** `config/connectors/NAME.yaml` with `type: webhook`. */
export const webhookSettings = z.strictObject({
  ...commonSettings({ concurrency: 8, timeout: '10s' }),
  /** Where to POST. */
  url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  /** Standard Webhooks signing secret (`whsec_…`); without it requests are unsigned. */
  secret: z.preprocess(
    // `secret: "${FORWARD_SECRET:-}"` with the variable unset means "unsigned".
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(
        /^whsec_[A-Za-z0-9+/]+={0,2}$/,
        'a Standard Webhooks secret looks like whsec_ followed by base64',
      )
      .optional(),
  ),
  /** Extra headers; values are templates. */
  headers: templateMap().default({}),
  /** A template for the body; by default the canonical event as JSON. */
  body: templateField().optional(),
});

export type WebhookSettings = z.output<typeof webhookSettings>;
