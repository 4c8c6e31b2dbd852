import type { SourcePreset } from './types.ts';

/** Intercom notification_event webhooks (`X-Hub-Signature: sha1=…` with the app's client secret). */
export const intercom: SourcePreset = {
  title: 'Intercom',
  verify: { scheme: 'hmac', header: 'X-Hub-Signature', prefix: 'sha1=', algorithm: 'sha1', encoding: 'hex' },
  events: [
    ['conversation.admin.assigned', 'conversation.escalated'],
    ['conversation.rating.added', 'feedback.submitted'],
    ['conversation.user.created (author has an email)', 'lead.qualified'],
  ],
  map: {
    id: '{{ payload.id }}',
    type: [
      { when: "payload.topic == 'conversation.admin.assigned'", value: 'conversation.escalated' },
      { when: "payload.topic == 'conversation.rating.added'", value: 'feedback.submitted' },
      {
        when: "payload.topic == 'conversation.user.created' and payload.data.item.source.author.email != blank",
        value: 'lead.qualified',
      },
    ],
    fields: {
      occurred_at: '{{ payload.created_at | iso_time }}',
      'contact.name': '{{ payload.data.item.source.author.name }}',
      'contact.email': '{{ payload.data.item.source.author.email }}',
      'conversation.id': '{{ payload.data.item.id }}',
      'conversation.channel': '{{ payload.data.item.source.delivered_as }}',
      'conversation.url': '{{ payload.data.item.source.url }}',
      'feedback.rating': '{{ payload.data.item.conversation_rating.rating }}',
      'feedback.comment': '{{ payload.data.item.conversation_rating.remark }}',
      'escalation.reason':
        "{% if payload.topic == 'conversation.admin.assigned' %}assigned to a teammate in Intercom{% endif %}",
    },
    messages: {
      from: 'payload.data.item.conversation_parts.conversation_parts',
      when: 'item.body != blank',
      role: "{% if item.author.type == 'user' or item.author.type == 'lead' %}user{% elsif item.author.type == 'bot' %}bot{% else %}agent{% endif %}",
      text: '{{ item.body | strip_html }}',
      at: '{{ item.created_at | iso_time }}',
      author: '{{ item.author.name }}',
    },
  },
};
