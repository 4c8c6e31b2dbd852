import type { SourcePreset } from './types.ts';

/**
 * Chatwoot account/inbox webhooks. A bot conversation sits in `pending`;
 * when it is handed to an agent its status becomes `open`: that is the
 * escalation. A resolved conversation whose contact left an email or phone
 * is a lead. `message_created` (one message each) and the rest are ignored.
 *
 * Shapes from Chatwoot's source (chatwoot/chatwoot): the status event is the
 * conversation's `webhook_data` + `event` + `changed_attributes`
 * (`app/listeners/webhook_listener.rb`); `meta.sender` is the contact and
 * `messages` holds only the conversation's last non-activity, non-private
 * message, with an integer `message_type` and `created_at` in Unix seconds
 * (`app/presenters/conversations/event_data_presenter.rb`,
 * `app/models/message.rb`). Signed webhooks carry `X-Chatwoot-Signature:
 * sha256=HEX` over `{X-Chatwoot-Timestamp}.{raw body}` and a delivery id in
 * `X-Chatwoot-Delivery` (Chatwoot's webhook `secret` description) — which
 * the signature does not cover, so the idempotency key comes from the body.
 */
export const chatwoot: SourcePreset = {
  title: 'Chatwoot',
  verify: {
    scheme: 'hmac',
    header: 'X-Chatwoot-Signature',
    prefix: 'sha256=',
    algorithm: 'sha256',
    encoding: 'hex',
    signed_content: '{timestamp}.{body}',
    timestamp_header: 'X-Chatwoot-Timestamp',
  },
  events: [
    ['conversation_status_changed (status open)', 'conversation.escalated'],
    ['conversation_status_changed (status resolved, contact has email or phone)', 'lead.qualified'],
  ],
  map: {
    // From the signed body only: X-Chatwoot-Delivery is not covered by the signature, so a
    // captured request re-sent with a new delivery id would otherwise be stored again.
    id: 'chatwoot-{{ payload.event }}-{{ payload.id }}-{{ payload.status }}-{{ payload.timestamp }}',
    type: [
      {
        when: "payload.event == 'conversation_status_changed' and payload.status == 'open'",
        value: 'conversation.escalated',
      },
      {
        when: "payload.event == 'conversation_status_changed' and payload.status == 'resolved' and payload.meta.sender.email != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.event == 'conversation_status_changed' and payload.status == 'resolved' and payload.meta.sender.phone_number != blank",
        value: 'lead.qualified',
      },
    ],
    fields: {
      occurred_at: '{{ payload.timestamp | iso_time }}',
      'contact.name': '{{ payload.meta.sender.name }}',
      'contact.email': '{{ payload.meta.sender.email }}',
      'contact.phone': '{{ payload.meta.sender.phone_number }}',
      'conversation.id': '{{ payload.id }}',
      'conversation.channel': '{{ payload.channel }}',
      'escalation.reason': 'handed over to an agent in Chatwoot',
      'metadata.chatwoot_inbox_id': '{{ payload.inbox_id }}',
    },
    // Only the last message: Chatwoot sends no more in this event.
    messages: {
      from: 'payload.messages',
      when: 'item.content != blank',
      role: "{% if item.message_type == 0 or item.message_type == 'incoming' %}user{% elsif item.message_type == 2 or item.message_type == 'activity' %}system{% elsif item.sender.type == 'agent_bot' %}bot{% else %}agent{% endif %}",
      text: '{{ item.content }}',
      at: '{{ item.created_at | iso_time }}',
      author: '{{ item.sender.name }}',
    },
  },
};
