import type { SourcePreset } from './types.ts';

/** Drift app webhooks `{ type, token, orgId, data }`; the app's verification token is in the body. */
export const drift: SourcePreset = {
  title: 'Drift',
  verify: { scheme: 'body_token', field: 'token' },
  events: [['contact_identified', 'lead.qualified']],
  map: {
    id: 'drift-{{ payload.orgId }}-{{ payload.type }}-{{ payload.data.id }}',
    type: [{ when: "payload.type == 'contact_identified'", value: 'lead.qualified' }],
    fields: {
      occurred_at: '{{ payload.data.createdAt | iso_time }}',
      'contact.email': '{{ payload.data.attributes.email }}',
      'contact.name': '{{ payload.data.attributes.name }}',
      'contact.phone': '{{ payload.data.attributes.phone }}',
      'metadata.drift_contact_id': '{{ payload.data.id }}',
    },
  },
};
