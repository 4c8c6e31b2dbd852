import type { EventType } from './canonical-event.ts';

/**
 * Realistic events of each type, for `leadrelay send-test`, the demo and the
 * tests. Each call gets fresh ids so repeated sends are new events.
 */
export function sampleEvent(type: EventType, suffix = Date.now().toString(36)): Record<string, unknown> {
  const at = new Date().toISOString();
  switch (type) {
    case 'lead.qualified':
      return {
        id: `evt_test_lead_${suffix}`,
        type,
        occurred_at: at,
        contact: {
          email: 'dana.reyes@acme.example',
          phone: '+1 415 555 0100',
          name: 'Dana Reyes',
          company: 'Acme Corp',
          job_title: 'COO',
          website: 'acme.example',
        },
        conversation: {
          id: `conv_test_${suffix}`,
          channel: 'web',
          url: `https://chat.example/c/test_${suffix}`,
          messages: [
            { role: 'bot', text: 'Hi! What brings you here?', at },
            { role: 'user', text: 'We need intake automation for 40 clinics.', at, author: 'Dana' },
            { role: 'bot', text: 'Great, when would you like to start?', at },
            { role: 'user', text: 'Next quarter, budget is around 20k.', at, author: 'Dana' },
          ],
        },
        lead: { use_case: 'intake automation', score: 82, budget: '10-25k', timeline: 'Q1', answers: {} },
        metadata: { sent_by: 'leadrelay send-test' },
      };
    case 'conversation.escalated':
      return {
        id: `evt_test_escalation_${suffix}`,
        type,
        occurred_at: at,
        contact: { email: 'sam.lee@globex.example', name: 'Sam Lee' },
        conversation: {
          id: `conv_test_esc_${suffix}`,
          channel: 'web',
          url: `https://chat.example/c/esc_${suffix}`,
          messages: [
            { role: 'user', text: 'I was charged twice, I want to talk to a person.', at, author: 'Sam' },
            { role: 'bot', text: 'I am connecting you with our team.', at },
          ],
        },
        escalation: {
          reason: 'asked for a human',
          priority: 'high',
          summary: 'Double charge on the last invoice.',
        },
        metadata: { sent_by: 'leadrelay send-test' },
      };
    case 'feedback.submitted':
      return {
        id: `evt_test_feedback_${suffix}`,
        type,
        occurred_at: at,
        contact: { email: 'kim@initech.example' },
        conversation: { id: `conv_test_fb_${suffix}`, channel: 'web' },
        feedback: { rating: 1, comment: 'The bot did not understand me.' },
        metadata: { sent_by: 'leadrelay send-test' },
      };
  }
}
