import type { SourcePreset } from './types.ts';

/**
 * Crisp web hooks `{ website_id, event, data, timestamp }`
 * (docs.crisp.chat/references/web-hooks/v1). Plugin hooks are signed:
 * `X-Crisp-Signature` = hex HMAC-SHA256 of `[{X-Crisp-Request-Timestamp};{body}]`
 * with the plugin's hook secret (also `VerifyHook` in crisp-im/go-crisp-api,
 * which signs the raw body). Website hooks (a website's own settings) are not
 * signed at all: see docs/sources.md. Crisp does not document the timestamp's
 * unit; the hmac scheme reads it as Unix seconds or milliseconds.
 * `session:set_email` / `session:set_phone` carry `{ website_id, session_id,
 * email | phone }` (crisp-im/go-crisp-api `crisp/events.go`); `timestamp` is
 * Unix milliseconds. `session:sync:rating` carries `{ website_id, session_id,
 * rating: { stars, comment } }` (`EventsReceiveSessionSyncRating` there;
 * `EventsSessionSyncRating` in crisp-im/node-crisp-api `lib/events/Events.ts`).
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
    ['session:sync:rating', 'feedback.submitted'],
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
      {
        when: "payload.event == 'session:sync:rating' and payload.data.rating.stars != blank",
        value: 'feedback.submitted',
      },
    ],
    fields: {
      occurred_at: '{{ payload.timestamp | iso_time }}',
      'contact.email': '{{ payload.data.email }}',
      'contact.phone': '{{ payload.data.phone }}',
      'conversation.id': '{{ payload.data.session_id }}',
      'conversation.channel': 'crisp',
      'feedback.rating': '{{ payload.data.rating.stars }}',
      'feedback.comment': '{{ payload.data.rating.comment }}',
      'metadata.crisp_website_id': '{{ payload.website_id }}',
    },
  },
};
