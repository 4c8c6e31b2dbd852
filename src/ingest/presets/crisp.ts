import type { SourcePreset } from './types.ts';

/**
 * Crisp website hooks `{ website_id, event, data, timestamp }`, signed with
 * `X-Crisp-Signature` (HMAC-SHA256, hex) over `[{timestamp};{body}]` with
 * `X-Crisp-Request-Timestamp`.
 */
export const crisp: SourcePreset = {
  title: 'Crisp',
  verify: {
    scheme: 'hmac',
    header: 'X-Crisp-Signature',
    algorithm: 'sha256',
    encoding: 'hex',
    signed_content: '[{timestamp};{body}]',
    timestamp_header: 'X-Crisp-Request-Timestamp',
  },
  events: [
    ['session:set_email', 'lead.qualified'],
    ['session:set_phone', 'lead.qualified'],
  ],
  map: {
    id: 'crisp-{{ payload.data.session_id }}-{{ payload.event }}-{{ payload.timestamp }}',
    type: [
      {
        when: "payload.event == 'session:set_email' and payload.data.email != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.event == 'session:set_phone' and payload.data.phone != blank",
        value: 'lead.qualified',
      },
    ],
    fields: {
      occurred_at: '{{ payload.timestamp | iso_time }}',
      'contact.email': '{{ payload.data.email }}',
      'contact.phone': '{{ payload.data.phone }}',
      'conversation.id': '{{ payload.data.session_id }}',
      'conversation.channel': 'crisp',
      'metadata.crisp_website_id': '{{ payload.website_id }}',
    },
  },
};
