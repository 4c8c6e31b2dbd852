import type { SourcePreset } from './types.ts';

/**
 * A Botpress human hand-off. Botpress has no hand-off webhook of its own
 * that could post here: its "Human in the Loop API" integration
 * (botpress/growth `integrations/hitl-api`) calls `{base}/ping`,
 * `{base}/createRemoteConversation` and more, without a conversation id or
 * any credential. So the bot's flow posts this body itself, with a shared
 * token header, when a user asks for a human:
 * `{ id, conversation: { id, messages: [{ text, author, timestamp }] } }` —
 * the message items shaped like that integration's
 * `createRemoteConversation.payload.messages`. Every such post is an escalation.
 */
export const botpress: SourcePreset = {
  title: 'Botpress (human hand-off)',
  verify: { scheme: 'token', header: 'X-Botpress-Token' },
  events: [['hand-off with conversation.id', 'conversation.escalated']],
  map: {
    // The body's own id: a token header signs nothing, so no other header may key the event.
    id: '{{ payload.id }}',
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
