import { createPrivateKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { templateField, templateMap } from '../../src/mapping/template-field.ts';
import { commonSettings } from '../common-settings.ts';

/** Lead or Contact: the Salesforce objects a chatbot lead can become. */
export const RECORD_OBJECTS = ['Lead', 'Contact'] as const;
export type RecordObject = (typeof RECORD_OBJECTS)[number];

/** The ways a record is found, in the default order (`match.order`; README.md, "Finding the record"). */
export const MATCH_STEPS = ['known', 'email', 'phone'] as const;
export type MatchStep = (typeof MATCH_STEPS)[number];

/** Task.Description is a long text area of 32,000 characters. */
export const DESCRIPTION_LIMIT = 32_000;
/** Task.Subject is 255 characters. */
export const SUBJECT_LIMIT = 255;

const DEFAULT_LEAD_FIELDS = {
  FirstName: '{{ contact.first_name | default: contact.name | first_name }}',
  LastName:
    '{% if contact.last_name %}{{ contact.last_name }}{% else %}{{ contact.name | last_name }}{% endif %}',
  Email: '{{ contact.email | lower }}',
  Phone: '{{ contact.phone | e164 | default: contact.phone }}',
  Company: '{{ contact.company }}',
  Title: '{{ contact.job_title }}',
  Website: '{{ contact.website }}',
};

const DEFAULT_CONTACT_FIELDS = {
  FirstName: DEFAULT_LEAD_FIELDS.FirstName,
  LastName: DEFAULT_LEAD_FIELDS.LastName,
  Email: DEFAULT_LEAD_FIELDS.Email,
  Phone: DEFAULT_LEAD_FIELDS.Phone,
  Title: DEFAULT_LEAD_FIELDS.Title,
};

const DEFAULT_TASK_DESCRIPTION =
  '{% if conversation.url %}Conversation: {{ conversation.url }}\n\n{% endif %}{{ conversation | transcript: "text", 31000 }}';

/** A Salesforce API name (field or object): letters, digits and underscores, e.g. `Chat_Id__c`. */
const apiName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'a Salesforce API name has letters, digits and _ (e.g. Chat_Id__c)');

const fieldMap = (defaults: Record<string, string>) =>
  templateMap()
    .prefault(defaults)
    .superRefine((fields, ctx) => {
      for (const name of Object.keys(fields))
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `"${name}" is not a Salesforce field API name`,
          });
    });

/** `${VAR:-}` with the variable unset means "not set". */
const secret = () =>
  z.preprocess((value) => (value === '' ? undefined : value), z.string().min(1).optional());

const httpUrl = () =>
  z
    .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
    .transform((url) => url.replace(/\/+$/, ''));

/** `config/connectors/NAME.yaml` with `type: salesforce`. */
export const salesforceSettings = z
  .strictObject({
    ...commonSettings({ concurrency: 4, rate: { requests: 10, per: '1s' }, timeout: '30s' }),
    /** The org's My Domain URL (or a sandbox's), e.g. https://acme.my.salesforce.com. */
    instance_url: httpUrl().meta({
      description: "The org's My Domain URL, e.g. https://acme.my.salesforce.com (or a local sandbox)",
    }),
    api_version: z
      .union([z.string(), z.number()])
      .transform((value) => (typeof value === 'number' ? value.toFixed(1) : value))
      .pipe(
        z
          .string()
          .regex(/^\d{2}\.0$/, 'an API version looks like "62.0"')
          .refine((value) => !/^\d{2}\.0$/.test(value) || Number(value) >= 46, {
            message: 'needs API version 46.0 or later (sObject Collections upsert)',
          }),
      )
      .prefault('62.0')
      .meta({ description: 'REST API version, e.g. "62.0"' }),
    /** Where tokens are requested; default: the instance URL for client credentials, else https://login.salesforce.com. */
    login_url: httpUrl().optional().meta({
      description:
        'OAuth server (token endpoint is LOGIN_URL/services/oauth2/token); default: instance_url for client credentials, otherwise https://login.salesforce.com',
    }),
    access_token: secret().meta({ description: 'A session/access token (no refresh possible alone)' }),
    client_id: secret().meta({ description: 'Connected app consumer key' }),
    client_secret: secret().meta({ description: 'Connected app consumer secret (client credentials)' }),
    username: secret().meta({ description: 'Salesforce username for the JWT bearer flow' }),
    private_key: secret().meta({
      description: 'PEM private key for the JWT bearer flow; use "${ENV_VAR}" (\\n escapes are accepted)',
    }),
    refresh_token: secret().meta({
      description: 'OAuth refresh token (with client_id, optional client_secret)',
    }),
    object: z
      .enum(RECORD_OBJECTS)
      .default('Lead')
      .meta({ description: 'What a new lead becomes: Lead (default) or Contact' }),
    match: z
      .strictObject({
        by: z.enum(['email', 'external_id']).default('email').meta({
          description: 'email: SOQL look-up by Email (Phone when there is no email); external_id: upsert',
        }),
        email: templateField().prefault('{{ contact.email | lower }}'),
        phone: templateField().prefault('{{ contact.phone | e164 }}'),
        external_id_field: apiName
          .optional()
          .meta({ description: 'External ID field for match.by external_id' }),
        external_id: templateField().prefault('{{ contact.email | lower }}'),
        order: z
          .array(z.enum(MATCH_STEPS))
          .min(1)
          .default([...MATCH_STEPS])
          .refine((steps) => new Set(steps).size === steps.length, {
            message: 'lists a step twice; each of known, email, phone at most once',
          })
          .meta({
            description:
              "How the record is found, first step that finds one wins, else a record is created: known (the record this connector resolved one of the event's conversation, visitor, email or phone to before), email, phone. With by: external_id only known counts, then the upsert",
          }),
      })
      .prefault({}),
    fields: z
      .strictObject({
        Lead: fieldMap(DEFAULT_LEAD_FIELDS),
        Contact: fieldMap(DEFAULT_CONTACT_FIELDS),
      })
      .prefault({})
      .meta({
        description:
          'Field templates written on create and update, for whichever object the event lands on; empty values are left out',
      }),
    placeholders: z
      .strictObject({
        LastName: z.string().min(1).default('[not provided]'),
        Company: z.string().min(1).default('[not provided]'),
      })
      .prefault({})
      .meta({
        description: 'Used on create when a required field (LastName; Company on a Lead) renders empty',
      }),
    lead_source: templateField()
      .prefault('Chatbot')
      .meta({ description: 'LeadSource of a created record (not changed on update); "" to leave it out' }),
    task: z
      .strictObject({
        enabled: z.boolean().default(true),
        subject: templateField().prefault(
          'Chatbot conversation{% if conversation.channel %} ({{ conversation.channel }}){% endif %}',
        ),
        description: templateField().prefault(DEFAULT_TASK_DESCRIPTION),
        status: z.string().min(1).default('Completed'),
        fields: fieldMap({ Priority: 'Normal', ActivityDate: '{{ occurred_at | date: "%Y-%m-%d", "UTC" }}' }),
        external_id_field: apiName.optional().meta({
          description:
            'A Task external ID field that receives the leadrelay event id; without it the Subject carries a marker that is looked up before creating',
        }),
      })
      .prefault({}),
    batch_size: z
      .number()
      .int()
      .min(1)
      .max(200)
      .default(200)
      .meta({ description: 'Events per sObject Collections call (≤ 200)' }),
  })
  .superRefine((settings, ctx) => {
    const problem = authProblem(settings);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    if (settings.private_key && !problem) {
      try {
        privateKey(settings.private_key);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['private_key'],
          message: `is not a PEM private key (${(error as Error).message})`,
        });
      }
    }
    if (settings.match.by === 'external_id' && !settings.match.external_id_field)
      ctx.addIssue({
        code: 'custom',
        path: ['match', 'external_id_field'],
        message: 'is required when match.by is external_id',
      });
  });

export type SalesforceSettings = z.output<typeof salesforceSettings>;

export type AuthMode = 'access_token' | 'client_credentials' | 'jwt_bearer' | 'refresh_token';

const AUTH_CHOICES =
  'access_token, or client_id + client_secret (client credentials), or client_id + username + private_key (JWT bearer), or refresh_token + client_id';

type AuthKeys = Pick<
  SalesforceSettings,
  'access_token' | 'client_id' | 'client_secret' | 'username' | 'private_key' | 'refresh_token'
>;

/** Which sign-in the keys describe. Call only on settings that passed validation. */
export function authMode(settings: AuthKeys): AuthMode {
  if (settings.refresh_token) return 'refresh_token';
  if (settings.private_key) return 'jwt_bearer';
  if (settings.client_secret) return 'client_credentials';
  return 'access_token';
}

function authProblem(s: AuthKeys): { path: string[]; message: string } | undefined {
  const given = (
    ['refresh_token', 'private_key', 'username', 'client_secret', 'access_token'] as const
  ).filter((key) => s[key]);
  if (s.refresh_token) {
    if (!s.client_id) return { path: ['refresh_token'], message: 'needs client_id too (refresh token flow)' };
    const extra = given.find((key) => key === 'private_key' || key === 'username');
    if (extra)
      return { path: [extra], message: `is not used with refresh_token; choose one of: ${AUTH_CHOICES}` };
    return undefined;
  }
  if (s.private_key || s.username) {
    const missing = (['client_id', 'username', 'private_key'] as const).filter((key) => !s[key]);
    if (missing.length > 0)
      return {
        path: [s.private_key ? 'private_key' : 'username'],
        message: `the JWT bearer flow also needs ${missing.join(' and ')}`,
      };
    const extra = given.find((key) => key === 'client_secret' || key === 'access_token');
    if (extra)
      return {
        path: [extra],
        message: `is not used with the JWT bearer flow; choose one of: ${AUTH_CHOICES}`,
      };
    return undefined;
  }
  if (s.client_secret) {
    if (!s.client_id) return { path: ['client_secret'], message: 'needs client_id too (client credentials)' };
    if (s.access_token)
      return {
        path: ['access_token'],
        message: `is not used with client credentials; choose one of: ${AUTH_CHOICES}`,
      };
    return undefined;
  }
  if (s.access_token) return undefined;
  if (s.client_id)
    return {
      path: ['client_id'],
      message:
        'needs client_secret (client credentials), username + private_key (JWT bearer) or refresh_token',
    };
  return { path: [], message: `needs a way to sign in: ${AUTH_CHOICES}` };
}

/** Reads a PEM key as YAML/env usually carry it: real newlines, or `\n` escapes on one line. */
export function privateKey(pem: string): KeyObject {
  return createPrivateKey(pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem);
}
