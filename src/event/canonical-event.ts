import { z } from 'zod';
import { formatPath } from '../util/key-path.ts';

/** The event types leadrelay understands (SPEC §3). */
export const EVENT_TYPES = ['lead.qualified', 'conversation.escalated', 'feedback.submitted'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const MESSAGE_ROLES = ['user', 'bot', 'agent', 'system'] as const;

// Loose on purpose: chat platforms send extra fields that mappings may use (SPEC §3),
// and a lead should not be refused because of an address a CRM would accept.
const looseEmail = z.string().regex(/^[^\s@]+@[^\s@]+$/, 'is not an email address');
const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

const contact = z.looseObject({
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

const message = z.looseObject({
  role: z.enum(MESSAGE_ROLES),
  text: z.string(),
  at: timestamp.optional(),
  author: z.string().optional(),
});

const conversation = z.looseObject({
  id: z.string().min(1).optional(),
  channel: z.string().optional(),
  url: z.string().optional(),
  messages: z.array(message).optional(),
});

const baseEvent = z.looseObject({
  id: z.string().min(1).max(255).optional(),
  type: z.enum(EVENT_TYPES),
  occurred_at: timestamp.optional(),
  contact: contact.optional(),
  conversation: conversation.optional(),
  lead: z.looseObject({ score: z.number().optional() }).optional(),
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

/** Requirements that depend on the event type (SPEC §3). */
export const canonicalEventSchema = baseEvent.superRefine((event, ctx) => {
  if (event.type === 'lead.qualified' && !event.contact?.email && !event.contact?.phone) {
    ctx.addIssue({
      code: 'custom',
      path: ['contact', 'email'],
      message: 'lead.qualified needs contact.email or contact.phone',
    });
  }
  if (event.type === 'conversation.escalated' && !event.conversation?.id) {
    ctx.addIssue({
      code: 'custom',
      path: ['conversation', 'id'],
      message: 'conversation.escalated needs conversation.id',
    });
  }
  if (event.type === 'feedback.submitted' && event.feedback?.rating === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['feedback', 'rating'],
      message: 'feedback.submitted needs feedback.rating (1-5)',
    });
  }
});

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
  if (result.success) return { ok: true, event: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
    })),
  };
}
