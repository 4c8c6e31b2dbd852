import { z } from 'zod';
import { formatPath } from '../util/key-path.ts';

/** The event types leadrelay understands (SPEC §3). */
export const EVENT_TYPES = ['lead.qualified', 'conversation.escalated', 'feedback.submitted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const MESSAGE_ROLES = ['user', 'bot', 'agent', 'system'] as const;

// Loose on purpose: chat platforms send extra fields that mappings may use (SPEC §3),
// and a lead should not be refused because of an address a CRM would accept.
// Control and invisible format characters (NUL, zero-width space, right-to-left
// override) have no place in an address and would be forwarded to every CRM.
const looseEmail = z
  .string()
  .regex(/^[^\s@\p{Cc}\p{Cf}<>]+@[^\s@\p{Cc}\p{Cf}<>]+$/u, 'is not an email address');
const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

const contact = z.looseObject({
  // The platform's own id for the visitor: it ties a person's events together across
  // conversations before they give an email (the identity map, docs/identity.md).
  id: z.union([z.string().min(1), z.number()]).optional(),
  email: looseEmail.optional(),
  phone: z.string().min(1).optional(),
  name: z.string().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  company: z.string().optional(),
  job_title: z.string().optional(),
  website: z.string().optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Bounds on a transcript, so that one signed event cannot make every later
 * step (validation, templates, CRM notes, Slack blocks) arbitrarily slow.
 * A real conversation is far below both.
 */
export const TRANSCRIPT_LIMITS = { messages: 1_000, messageLength: 20_000 } as const;

const message = z.looseObject({
  role: z.enum(MESSAGE_ROLES),
  text: z
    .string()
    .max(
      TRANSCRIPT_LIMITS.messageLength,
      `a message may hold at most ${TRANSCRIPT_LIMITS.messageLength} characters`,
    ),
  at: timestamp.optional(),
  author: z.string().optional(),
});

const conversation = z.looseObject({
  id: z.string().min(1).optional(),
  channel: z.string().optional(),
  url: z.string().optional(),
  messages: z
    .array(message)
    .max(
      TRANSCRIPT_LIMITS.messages,
      `a conversation may carry at most ${TRANSCRIPT_LIMITS.messages} messages`,
    )
    .optional(),
});

const baseEvent = z.looseObject({
  id: z.string().min(1).max(255).optional(),
  type: z.enum(EVENT_TYPES),
  occurred_at: timestamp.optional(),
  contact: contact.optional(),
  conversation: conversation.optional(),
  // What a bot collected while qualifying: only the score is checked; the
  // others are named so conditions and templates can be checked against them.
  lead: z
    .looseObject({
      score: z.number().optional(),
      use_case: z.unknown().optional(),
      budget: z.unknown().optional(),
      timeline: z.unknown().optional(),
      answers: z.unknown().optional(),
    })
    .optional(),
  escalation: z
    .looseObject({
      reason: z.string().optional(),
      priority: z.string().optional(),
      summary: z.string().optional(),
    })
    .optional(),
  feedback: z
    .looseObject({ rating: z.number().int().min(1).max(5).optional(), comment: z.string().optional() })
    .optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const canonicalEventSchema = baseEvent;

/**
 * Requirements that depend on the event type (SPEC §3). Checked on the raw
 * body even when other fields fail, so a 422 lists every problem at once.
 */
function typeRequirements(body: Record<string, unknown>): FieldError[] {
  const contact = asRecord(body.contact);
  const conversation = asRecord(body.conversation);
  const feedback = asRecord(body.feedback);
  switch (body.type) {
    case 'lead.qualified':
      return contact.email || contact.phone
        ? []
        : [{ path: 'contact.email', message: 'lead.qualified needs contact.email or contact.phone' }];
    case 'conversation.escalated':
      return conversation.id
        ? []
        : [{ path: 'conversation.id', message: 'conversation.escalated needs conversation.id' }];
    case 'feedback.submitted':
      return feedback.rating !== undefined
        ? []
        : [{ path: 'feedback.rating', message: 'feedback.submitted needs feedback.rating (1-5)' }];
    default:
      return [];
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

export type CanonicalEvent = z.output<typeof baseEvent> & { id: string };

export interface FieldError {
  path: string;
  message: string;
}

/** Every failing field, with its dotted path, for a 422 body. */
export function validateCanonicalEvent(
  body: unknown,
): { ok: true; event: z.output<typeof baseEvent> } | { ok: false; errors: FieldError[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, errors: [{ path: '', message: 'the event must be a JSON object' }] };
  }
  const result = canonicalEventSchema.safeParse(body);
  const errors = result.success
    ? []
    : result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  for (const missing of typeRequirements(body as Record<string, unknown>)) {
    if (!errors.some((error) => error.path === missing.path)) errors.push(missing);
  }
  if (result.success && errors.length === 0) return { ok: true, event: result.data };
  return { ok: false, errors };
}
