import type { SourcePreset } from './types.ts';

/**
 * A Botpress human hand-off: the bot posts the conversation with its
 * `messages[{ text, author, timestamp }]` when a user asks for a human.
 * Every such post is an escalation. Botpress sends what the bot's webhook
 * action is told to send, so a shared token header is the default check.
 */
export const botpress: SourcePreset = {
  title: 'Botpress (human hand-off)',
  verify: { scheme: 'token', header: 'X-Botpress-Token' },
  events: [['hand-off with conversation.id', 'conversation.escalated']],
  map: {
    id: "{{ headers['x-botpress-delivery'] | default: payload.id }}",
    type: [{ when: 'payload.conversation.id != blank', value: 'conversation.escalated' }],
    fields: {
      'conversation.id': '{{ payload.conversation.id }}',
      'escalation.reason': 'asked for a human',
    },
    messages: {
      from: 'payload.conversation.messages',
      role: "{% if item.author == 'bot' %}bot{% elsif item.author == 'agent' %}agent{% else %}user{% endif %}",
      text: '{{ item.text }}',
      at: '{{ item.timestamp | iso_time }}',
      author: "{% unless item.author == 'bot' %}{{ item.author }}{% endunless %}",
    },
  },
};
