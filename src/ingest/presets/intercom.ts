import type { SourcePreset } from './types.ts';

/**
 * Intercom webhook notifications `{ type: "notification_event", id, topic,
 * app_id, created_at, data: { item } }`, signed `X-Hub-Signature: sha1=HEX`
 * (HMAC-SHA1 of the body with the app's client secret; developers.intercom.com
 * "Signed Notifications"). The conversation topics carry a Conversation in
 * the API 2.x model (`source.author`, `contacts`, `conversation_rating`, and
 * in `conversation_parts` only the parts the notification is about), as in
 * the payloads captured in zulip/zulip `zerver/webhooks/intercom/fixtures/`.
 * The visitor's opening message is the conversation's `source` (its `body`),
 * not one of its parts, so the transcript starts there. The contact topics
 * (`contact.lead.created`, `contact.lead.added_email`) carry a Contact in
 * `data.item` (`role: "lead"`, `email`, `phone`, `name`).
 */
/** The contact: the Contact itself on contact topics, the conversation's author on the others. */
const CONTACT = (field: string) =>
  `{% if payload.data.item.type == 'contact' %}{{ payload.data.item.${field} }}{% else %}{{ payload.data.item.source.author.${field} }}{% endif %}`;

export const intercom: SourcePreset = {
  title: 'Intercom',
  verify: { scheme: 'hmac', header: 'X-Hub-Signature', prefix: 'sha1=', algorithm: 'sha1', encoding: 'hex' },
  events: [
    ['conversation.admin.assigned', 'conversation.escalated'],
    ['conversation.admin.open.assigned', 'conversation.escalated'],
    ['conversation.rating.added', 'feedback.submitted'],
    ['conversation.user.created (author has an email)', 'lead.qualified'],
    ['contact.lead.created (with an email or phone)', 'lead.qualified'],
    ['contact.lead.added_email', 'lead.qualified'],
  ],
  map: {
    id: '{{ payload.id }}',
    type: [
      { when: "payload.topic == 'conversation.admin.assigned'", value: 'conversation.escalated' },
      { when: "payload.topic == 'conversation.admin.open.assigned'", value: 'conversation.escalated' },
      { when: "payload.topic == 'conversation.rating.added'", value: 'feedback.submitted' },
      {
        when: "payload.topic == 'conversation.user.created' and payload.data.item.source.author.email != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.topic == 'contact.lead.created' and payload.data.item.email != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.topic == 'contact.lead.created' and payload.data.item.phone != blank",
        value: 'lead.qualified',
      },
      {
        when: "payload.topic == 'contact.lead.added_email' and payload.data.item.email != blank",
        value: 'lead.qualified',
      },
    ],
    fields: {
      occurred_at: '{{ payload.created_at | iso_time }}',
      // The Intercom contact (user or lead): what ties a returning visitor's conversations together.
      'contact.id': CONTACT('id'),
      'contact.name': CONTACT('name'),
      'contact.email': CONTACT('email'),
      'contact.phone': "{% if payload.data.item.type == 'contact' %}{{ payload.data.item.phone }}{% endif %}",
      'conversation.id':
        "{% if payload.data.item.type == 'conversation' %}{{ payload.data.item.id }}{% endif %}",
      // `conversation` (the Messenger), `email`, `facebook`, `whatsapp`, …
      'conversation.channel': '{{ payload.data.item.source.type }}',
      'feedback.rating': '{{ payload.data.item.conversation_rating.rating }}',
      'feedback.comment': '{{ payload.data.item.conversation_rating.remark }}',
      'escalation.reason':
        "{% if payload.topic contains 'assigned' %}assigned to a teammate in Intercom{% endif %}",
      'metadata.intercom_app_id': '{{ payload.app_id }}',
      'metadata.intercom_contact_id':
        "{% if payload.data.item.type == 'contact' %}{{ payload.data.item.id }}{% else %}{{ payload.data.item.source.author.id }}{% endif %}",
      'metadata.intercom_page_url': '{{ payload.data.item.source.url }}',
    },
    messages: {
      // The opening message first (it is the conversation's source), then the parts.
      from: ['payload.data.item.source', 'payload.data.item.conversation_parts.conversation_parts'],
      when: 'item.body != blank',
      role: "{% if item.author.type == 'user' or item.author.type == 'lead' or item.author.type == 'contact' %}user{% elsif item.author.type == 'bot' %}bot{% else %}agent{% endif %}",
      text: '{{ item.body | strip_html }}',
      at: '{{ item.created_at | default: payload.data.item.created_at | iso_time }}',
      author: '{{ item.author.name }}',
    },
  },
};
