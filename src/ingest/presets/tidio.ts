import type { SourcePreset } from './types.ts';

/**
 * Tidio webhooks `{ created_at, project_public_key, topic, version,
 * webhook_id, content }`. Tidio signs with `x-tidio-signature: t=…,s=…`,
 * which the generic schemes cannot parse yet: this preset has no default
 * `verify`, so the admin must choose one (docs/sources.md).
 */
export const tidio: SourcePreset = {
  title: 'Tidio',
  verify: undefined,
  events: [['contact.created (with email or phone)', 'lead.qualified']],
  map: {
    id: '{{ payload.webhook_id }}',
    type: [
      {
        when: "payload.topic == 'contact.created' and payload.content.email != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.topic == 'contact.created' and payload.content.phone != blank",
        value: 'lead.qualified',
      },
    ],
    fields: {
      occurred_at: '{{ payload.created_at | iso_time }}',
      'contact.email': '{{ payload.content.email }}',
      'contact.phone': '{{ payload.content.phone }}',
      'contact.first_name': '{{ payload.content.first_name }}',
      'contact.last_name': '{{ payload.content.last_name }}',
      'contact.name': '{{ payload.content.first_name }} {{ payload.content.last_name }}',
    },
  },
};
