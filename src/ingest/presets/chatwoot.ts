import type { SourcePreset } from './types.ts';

/**
 * Chatwoot account/inbox webhooks. A bot conversation sits in `pending`;
 * when it is handed to an agent its status becomes `open`: that is the
 * escalation. A resolved conversation whose contact left an email or phone
 * is a lead. The web widget's own lead capture (the visitor typing an email
 * into Chatwoot's "Get notified by email" template message) and its
 * satisfaction survey (CSAT) each arrive as `message_updated`: a lead and a
 * rating. Other `message_*` events (one message each) and the rest are ignored.
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
 *
 * In a webhook, a conversation's `id` is its per-account display id (the
 * presenter sets `id: display_id`), which is what the app's URL uses:
 * `{instance}/app/accounts/{account}/conversations/{id}` (the route
 * Chatwoot's own mailers link to). Message events carry the account as
 * `account.id`; conversation events only as `messages[].account_id`.
 * Template messages (`message_type` 3 / "template") are Chatwoot's own
 * automated bubbles (email collection, CSAT), sent by no agent.
 */
/** Chatwoot's channel classes by the name Chatwoot shows for them ("Inbox type"). */
const CHANNEL =
  "{% assign c = payload.conversation.channel | default: payload.channel %}{% case c %}{% when 'Channel::WebWidget' %}web{% when 'Channel::Api' %}api{% when 'Channel::Email' %}email{% when 'Channel::FacebookPage' %}facebook{% when 'Channel::Whatsapp' %}whatsapp{% when 'Channel::TwilioSms', 'Channel::Sms' %}sms{% when 'Channel::Telegram' %}telegram{% when 'Channel::Line' %}line{% when 'Channel::TwitterProfile' %}twitter{% when 'Channel::Instagram' %}instagram{% else %}{{ c | remove_first: 'Channel::' | downcase }}{% endcase %}";

const SENDER = (field: string) =>
  `{{ payload.meta.sender.${field} | default: payload.conversation.meta.sender.${field} }}`;

const CSAT = 'payload.content_attributes.submitted_values.csat_survey_response';

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
    ['message_updated (an email submitted in the widget\'s "Get notified by email")', 'lead.qualified'],
    ['message_updated (a CSAT survey answered)', 'feedback.submitted'],
  ],
  map: {
    // From the signed body only: X-Chatwoot-Delivery is not covered by the signature, so a
    // captured request re-sent with a new delivery id would otherwise be stored again.
    id: `{% if payload.event contains 'message' %}chatwoot-{{ payload.event }}-{{ payload.id }}-{{ payload.content_attributes.submitted_email }}-{{ ${CSAT}.rating }}{% else %}chatwoot-{{ payload.event }}-{{ payload.id }}-{{ payload.status }}-{{ payload.timestamp }}{% endif %}`,
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
      {
        when: "payload.event == 'message_updated' and payload.content_type == 'input_email' and payload.content_attributes.submitted_email != blank",
        value: 'lead.qualified',
      },
      {
        when: `payload.event == 'message_updated' and payload.content_type == 'input_csat' and ${CSAT}.rating != blank`,
        value: 'feedback.submitted',
      },
    ],
    fields: {
      occurred_at:
        "{% if payload.event contains 'message' %}{{ payload.conversation.updated_at | default: payload.created_at | iso_time }}{% else %}{{ payload.timestamp | iso_time }}{% endif %}",
      // The Chatwoot contact: what ties a returning visitor's conversations together (docs/identity.md).
      'contact.id': SENDER('id'),
      'contact.name': SENDER('name'),
      'contact.email': `{{ payload.content_attributes.submitted_email | default: payload.meta.sender.email | default: payload.conversation.meta.sender.email }}`,
      'contact.phone': SENDER('phone_number'),
      'conversation.id': '{{ payload.conversation.id | default: payload.id }}',
      'conversation.channel': CHANNEL,
      'conversation.url':
        '{% if source.base_url != blank %}{% assign account = payload.account.id | default: payload.messages[0].account_id | default: payload.conversation.messages[0].account_id %}{% if account != blank %}{{ source.base_url }}/app/accounts/{{ account }}/conversations/{{ payload.conversation.id | default: payload.id }}{% endif %}{% endif %}',
      // Only a hand-off is an escalation: a resolved conversation's lead is not "escalated".
      'escalation.reason':
        "{% if payload.event == 'conversation_status_changed' and payload.status == 'open' %}handed over to an agent in Chatwoot{% endif %}",
      'feedback.rating': `{{ ${CSAT}.rating }}`,
      'feedback.comment': `{{ ${CSAT}.feedback_message }}`,
      'metadata.chatwoot_inbox_id': '{{ payload.inbox_id | default: payload.conversation.inbox_id }}',
      'metadata.chatwoot_account_id':
        '{{ payload.account.id | default: payload.messages[0].account_id | default: payload.conversation.messages[0].account_id }}',
    },
    // The conversation's last message: Chatwoot sends no more in these events.
    messages: {
      from: ['payload.messages', 'payload.conversation.messages'],
      when: 'item.content != blank',
      role: "{% if item.message_type == 0 or item.message_type == 'incoming' %}user{% elsif item.message_type == 2 or item.message_type == 'activity' %}system{% elsif item.message_type == 3 or item.message_type == 'template' or item.sender.type == 'agent_bot' %}bot{% else %}agent{% endif %}",
      text: '{{ item.content }}',
      at: '{{ item.created_at | iso_time }}',
      author: '{{ item.sender.name }}',
    },
  },
};
