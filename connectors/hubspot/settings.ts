import { z } from 'zod';
import { templateField, templateMap } from '../../src/mapping/template-field.ts';
import { duration } from '../../src/util/duration.ts';
import { commonSettings } from '../common-settings.ts';

/**
 * Defaults use only properties every HubSpot portal has. A custom property
 * (e.g. `lead_source_detail`) must be created in HubSpot first, then added here.
 */
export const DEFAULT_PROPERTIES: Record<string, string> = {
  email: '{{ contact.email | lower }}',
  firstname:
    '{% if contact.first_name %}{{ contact.first_name }}{% else %}{{ contact.name | first_name }}{% endif %}',
  lastname:
    '{% if contact.last_name %}{{ contact.last_name }}{% else %}{{ contact.name | last_name }}{% endif %}',
  // Same rule as Salesforce: E.164 when readable, else as the visitor wrote it (docs/configuration.md).
  phone: '{{ contact.phone | e164 | default: contact.phone }}',
  company: '{{ contact.company }}',
  jobtitle: '{{ contact.job_title }}',
  website: '{{ contact.website }}',
};

/** Set only when leadrelay creates the contact, so an existing customer is never moved back to "lead". */
export const DEFAULT_CREATE_ONLY: Record<string, string> = {
  lifecyclestage: 'lead',
  hs_lead_status: 'NEW',
};

export const DEFAULT_NOTE = [
  '<p><strong>Chatbot {% if type == "lead.qualified" %}qualified lead{% elsif type == "conversation.escalated" %}escalation{% else %}conversation{% endif %}</strong>',
  '{% if conversation.channel %} via {{ conversation.channel }}{% endif %}{% if lead.score %} — score {{ lead.score }}{% endif %}</p>',
  '{% if lead.use_case or lead.budget or lead.timeline %}<ul>',
  '{% if lead.use_case %}<li>Use case: {{ lead.use_case | escape }}</li>{% endif %}',
  '{% if lead.budget %}<li>Budget: {{ lead.budget | escape }}</li>{% endif %}',
  '{% if lead.timeline %}<li>Timeline: {{ lead.timeline | escape }}</li>{% endif %}',
  '</ul>{% endif %}',
  '{% if escalation.reason %}<p>Escalated: {{ escalation.reason | escape }}{% if escalation.priority %} ({{ escalation.priority | escape }} priority){% endif %}</p>{% endif %}',
  '{% if conversation.url %}<p><a href="{{ conversation.url | escape }}">Open the conversation</a></p>{% endif %}',
  '{{ conversation | transcript: "html", 60000 }}',
].join('');

export const MATCH_STEPS = ['known', 'email', 'phone'] as const;
export type MatchStep = (typeof MATCH_STEPS)[number];

const matchOrder = z
  .array(z.enum(MATCH_STEPS))
  .min(1, 'name at least "email", e.g. [known, email, phone]')
  .refine((steps) => new Set(steps).size === steps.length, 'each step may appear once')
  // HubSpot holds an email on one contact only: whatever the order, a lead whose email a
  // contact holds goes there, so leaving `email` out would promise something HubSpot refuses.
  .refine(
    (steps) => steps.includes('email'),
    'must include "email": HubSpot keeps one contact per email, so a lead with an email always goes to the contact holding it',
  );

/** `config/connectors/NAME.yaml` with `type: hubspot`. */
export const hubspotSettings = z.strictObject({
  ...commonSettings({ concurrency: 4, rate: { requests: 100, per: '10s' }, timeout: '20s' }),
  /** Private-app access token: `${HUBSPOT_ACCESS_TOKEN}`. */
  access_token: z.string().min(1, 'set a private-app token, e.g. "${HUBSPOT_ACCESS_TOKEN}"'),
  /** The API root; a sandbox or proxy may replace it. */
  base_url: z.url().default('https://api.hubapi.com'),
  /** Used for record links; looked up from the token when left out. */
  portal_id: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
  /** Where contact records open in a browser. */
  app_url: z.url().default('https://app.hubspot.com'),
  /** Contact properties (HubSpot internal names) → templates over the event. */
  properties: templateMap().prefault(DEFAULT_PROPERTIES),
  /** Properties set only when the contact is created. */
  create_only_properties: templateMap().prefault(DEFAULT_CREATE_ONLY),
  /** The note attached to the contact (HTML); leadrelay adds a line with the event id. */
  note: templateField().prefault(DEFAULT_NOTE),
  /**
   * How long HubSpot's search may take to show a contact just created. A
   * phone-only lead is matched through search; on a retry whose earlier
   * attempt may have created the contact (its answer was lost, or the worker
   * died), "no match" is trusted only this long after that attempt ended.
   */
  search_lag: duration.prefault('15s'),
  /**
   * How a lead finds its contact, in order (docs/identity.md): `known` — the contact an
   * earlier delivery of this conversation, visitor, email or phone went to (the identity
   * map), updated by id; `email` — the contact holding the lead's email; `phone` — search
   * by phone, for a lead without an email or whose email no contact holds yet (one search
   * call per such lead; a contact with another email is not matched). Nothing found: a new
   * contact.
   */
  match: matchOrder.default(['known', 'email', 'phone']),
  /** Contacts per batch call (HubSpot allows 100). */
  batch_size: z.number().int().min(1).max(100).default(100),
});

export type HubSpotSettings = z.output<typeof hubspotSettings>;
