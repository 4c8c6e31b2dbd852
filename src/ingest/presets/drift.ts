import type { SourcePreset } from './types.ts';

/**
 * Drift app webhooks `{ type, token, orgId, data }`
 * (devdocs.drift.com/docs/webhook-events-1). The app's verification token
 * arrives in the body's `token` (and in an `X-Verification-Token` header).
 * `contact_identified` ("a contact added their email in chat") carries a
 * Contact (`{ id, createdAt, attributes: { email, name, phone, … } }`,
 * devdocs.drift.com/docs/contact-model). `createdAt` is when the contact was
 * first captured, not when it was identified, so it is not `occurred_at`.
 */
export const drift: SourcePreset = {
  title: 'Drift',
  verify: { scheme: 'body_token', field: 'token' },
  events: [['contact_identified', 'lead.qualified']],
  map: {
    id: 'drift-{{ payload.orgId }}-{{ payload.type }}-{{ payload.data.id }}',
    type: [{ when: "payload.type == 'contact_identified'", value: 'lead.qualified' }],
    fields: {
      'contact.email': '{{ payload.data.attributes.email }}',
      'contact.name': '{{ payload.data.attributes.name }}',
      'contact.phone': '{{ payload.data.attributes.phone }}',
      'metadata.drift_contact_id': '{{ payload.data.id }}',
      'metadata.drift_org_id': '{{ payload.orgId }}',
    },
  },
};
