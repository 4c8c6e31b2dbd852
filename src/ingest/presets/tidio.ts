import type { SourcePreset } from './types.ts';

/**
 * Tidio webhooks `{ created_at, project_public_key, topic, version,
 * webhook_id, content }` (developers.tidio.com/docs/webhooks-structure);
 * `contact.created` carries the contact in `content` (`id, email, phone,
 * first_name, last_name, distinct_id, properties[]`,
 * developers.tidio.com/reference/events).
 *
 * Signed (developers.tidio.com/docs/webhooks-signature-verification) with
 * `x-tidio-signature: t=SIGNING_TIMESTAMP,s=HEX[,s=HEX…]`, one `s` per
 * webhook secret, each the hex HMAC-SHA256 of `{request_body}_{t}`: the
 * generic hmac scheme with `header_fields`.
 *
 * The id: Tidio calls `webhook_id` a "unique webhook ID" without saying
 * whether a retried delivery keeps it, so a contact event is keyed by topic
 * and contact id instead (one `contact.created` per contact, however often it
 * is delivered); `webhook_id` only when there is no contact id.
 */
export const tidio: SourcePreset = {
  title: 'Tidio',
  verify: {
    scheme: 'hmac',
    header: 'x-tidio-signature',
    header_fields: { timestamp: 't', signature: 's' },
    algorithm: 'sha256',
    encoding: 'hex',
    signed_content: '{body}_{timestamp}',
  },
  events: [['contact.created (with email or phone)', 'lead.qualified']],
  map: {
    id: '{% if payload.content.id != blank %}tidio-{{ payload.topic }}-{{ payload.content.id }}{% else %}{{ payload.webhook_id }}{% endif %}',
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
      'metadata.tidio_contact_id': '{{ payload.content.id }}',
      'metadata.tidio_distinct_id': '{{ payload.content.distinct_id }}',
      'metadata.tidio_project': '{{ payload.project_public_key }}',
    },
  },
};
