/**
 * The chatbot events `leadrelay demo` sends: what a website bot, a WhatsApp
 * bot and a support bot would post in a morning. Each has a short label for
 * the printed summary and says what should become of it.
 */

export interface DemoEvent {
  /** Stable name of the scenario (the JSON summary and the test use it). */
  key: string;
  /** One line for people. */
  label: string;
  /** What the demo expects to happen, printed under the event. */
  expect: string;
  event: Record<string, unknown>;
}

/** Free-mail domains the demo Salesforce org's validation rule refuses on Leads. */
export const FREE_MAIL = /@(gmail|yahoo|hotmail|outlook|aol)\.[a-z.]+$/i;

export const VALIDATION_RULE = {
  name: 'Business_Email_Required',
  field: 'Email',
  message:
    'Use a business email address: Leads with free-mail addresses (gmail.com, yahoo.com, …) are not accepted.',
};

/** The events, with ids unique to this run (`run`), timed in the last hour before `now`. */
export function demoEvents(run: string, now = Date.now()): DemoEvent[] {
  /** `minutes` (and `seconds`) before `now`. */
  const at = (minutesAgo: number, seconds = 0) =>
    new Date(now - minutesAgo * 60_000 - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const id = (key: string) => `evt_demo_${run}_${key}`;
  const conv = (key: string) => `conv_${run}_${key}`;
  const chatUrl = (key: string) => `https://chat.example/c/${run}_${key}`;

  return [
    {
      key: 'lead-dana',
      label: 'Qualified lead from the website: Dana Reyes, COO at Acme Corp',
      expect:
        'a HubSpot contact with the transcript as a note, a Salesforce Lead with a Task, an alert in #sales',
      event: {
        id: id('lead-dana'),
        type: 'lead.qualified',
        occurred_at: at(52),
        contact: {
          email: 'dana.reyes@acme.example',
          phone: '+1 415 555 0100',
          name: 'Dana Reyes',
          company: 'Acme Corp',
          job_title: 'COO',
          website: 'acme.example',
          attributes: { employees: '50-200' },
        },
        conversation: {
          id: conv('dana-1'),
          channel: 'web',
          url: chatUrl('dana-1'),
          messages: [
            { role: 'bot', text: 'Hi! What brings you to Acme Automation today?', at: at(56) },
            {
              role: 'user',
              text: 'We run 40 clinics and patient intake is still on paper.',
              at: at(55, 40),
              author: 'Dana',
            },
            { role: 'bot', text: 'How many new patients do you see per month?', at: at(55) },
            { role: 'user', text: 'About 3,000 across all sites.', at: at(54, 45), author: 'Dana' },
            { role: 'bot', text: 'When would you like to start, and is there a budget?', at: at(54) },
            {
              role: 'user',
              text: 'Next quarter. Budget is around 20k for the first year.',
              at: at(53, 30),
              author: 'Dana',
            },
          ],
        },
        lead: {
          use_case: 'patient intake automation',
          score: 82,
          budget: '10-25k',
          timeline: 'Q1',
          summary: '40 clinics, ~3,000 new patients a month, paper intake; wants to start next quarter.',
        },
        metadata: { bot: 'website-bot', page: '/pricing' },
      },
    },
    {
      key: 'lead-priya',
      label: 'Qualified lead from the website: Priya Natarajan, Head of Ops at Northwind',
      expect: 'a second HubSpot contact and Salesforce Lead, an alert in #sales',
      event: {
        id: id('lead-priya'),
        type: 'lead.qualified',
        occurred_at: at(41),
        contact: {
          email: 'priya@northwind.example',
          name: 'Priya Natarajan',
          company: 'Northwind Traders',
          job_title: 'Head of Operations',
          website: 'northwind.example',
        },
        conversation: {
          id: conv('priya'),
          channel: 'web',
          url: chatUrl('priya'),
          messages: [
            { role: 'bot', text: 'Hello! Can I help you find something?', at: at(44) },
            {
              role: 'user',
              text: 'Do you integrate with our warehouse system? We handle 500 orders a day.',
              at: at(43, 40),
              author: 'Priya',
            },
            { role: 'bot', text: 'Yes, through our API and a ready-made connector.', at: at(43) },
            { role: 'user', text: 'Great, I want a demo this month.', at: at(42), author: 'Priya' },
          ],
        },
        lead: { use_case: 'order routing', score: 74, budget: '25-50k', timeline: 'this month' },
      },
    },
    {
      key: 'lead-dana-again',
      label: 'Dana Reyes comes back 40 minutes later with a bigger budget (same email)',
      expect:
        'the same HubSpot contact and Salesforce Lead are updated (no duplicates); a second note and Task',
      event: {
        id: id('lead-dana-again'),
        type: 'lead.qualified',
        occurred_at: at(12),
        contact: {
          email: 'Dana.Reyes@acme.example',
          name: 'Dana Reyes',
          company: 'Acme Corp',
          job_title: 'Chief Operating Officer',
        },
        conversation: {
          id: conv('dana-2'),
          channel: 'web',
          url: chatUrl('dana-2'),
          messages: [
            {
              role: 'user',
              text: 'Hi again — our board approved a bigger rollout.',
              at: at(14),
              author: 'Dana',
            },
            { role: 'bot', text: 'Congratulations! What changed?', at: at(13, 50) },
            {
              role: 'user',
              text: 'All 40 clinics at once, budget now up to 45k. Can someone call me today?',
              at: at(13, 20),
              author: 'Dana',
            },
          ],
        },
        lead: { use_case: 'patient intake automation', score: 93, budget: '25-50k', timeline: 'now' },
      },
    },
    {
      key: 'lead-phone-only',
      label: 'Qualified lead from WhatsApp with only a phone number: Marco Rossi',
      expect: 'found or created by phone in HubSpot and Salesforce, an alert in #sales',
      event: {
        id: id('lead-phone-only'),
        type: 'lead.qualified',
        occurred_at: at(30),
        contact: { phone: '+39 347 555 0199', name: 'Marco Rossi' },
        conversation: {
          id: conv('marco'),
          channel: 'whatsapp',
          messages: [
            {
              role: 'user',
              text: 'Ciao, do you ship the starter kit to Italy?',
              at: at(32),
              author: 'Marco',
            },
            { role: 'bot', text: 'We do! How many locations would use it?', at: at(31, 40) },
            { role: 'user', text: 'Three shops in Milan. Please call me.', at: at(31), author: 'Marco' },
          ],
        },
        lead: { use_case: 'retail starter kit', score: 61, timeline: 'next month' },
      },
    },
    {
      key: 'escalation',
      label: 'Escalation: Sam Lee was charged twice and asks for a human',
      expect: 'a HIGH priority alert in #support',
      event: {
        id: id('escalation'),
        type: 'conversation.escalated',
        occurred_at: at(25),
        contact: { email: 'sam.lee@globex.example', name: 'Sam Lee', company: 'Globex' },
        conversation: {
          id: conv('sam'),
          channel: 'web',
          url: chatUrl('sam'),
          messages: [
            {
              role: 'user',
              text: 'I was charged twice for November. I want to talk to a person.',
              at: at(27),
              author: 'Sam',
            },
            { role: 'bot', text: 'Sorry about that! I am connecting you with our billing team.', at: at(26) },
          ],
        },
        escalation: {
          reason: 'asked for a human',
          priority: 'high',
          summary: 'Double charge on the November invoice; wants a refund today.',
        },
      },
    },
    {
      key: 'feedback-negative',
      label: 'Negative feedback: Kim rated the bot 1/5',
      expect: 'an alert in #support (route: feedback.rating <= 2)',
      event: {
        id: id('feedback-negative'),
        type: 'feedback.submitted',
        occurred_at: at(18),
        contact: { email: 'kim@initech.example', name: 'Kim Park' },
        conversation: {
          id: conv('kim'),
          channel: 'web',
          url: chatUrl('kim'),
          messages: [
            { role: 'user', text: 'How do I export last month’s reports as CSV?', at: at(20), author: 'Kim' },
            { role: 'bot', text: 'Here are our pricing plans!', at: at(19, 50) },
            { role: 'user', text: 'That is not what I asked.', at: at(19, 30), author: 'Kim' },
          ],
        },
        feedback: { rating: 1, comment: 'The bot did not understand my question about CSV exports.' },
      },
    },
    {
      key: 'feedback-positive',
      label: 'Positive feedback: 5/5 from Lee',
      expect: 'only the webhook (n8n/Zapier) gets it: the Slack route is for ratings of 2 or less',
      event: {
        id: id('feedback-positive'),
        type: 'feedback.submitted',
        occurred_at: at(8),
        contact: { email: 'lee@umbrella.example', name: 'Lee Chen' },
        conversation: { id: conv('lee'), channel: 'web' },
        feedback: { rating: 5, comment: 'Fast and helpful, thanks!' },
      },
    },
    {
      key: 'lead-free-mail',
      label: 'Qualified lead with a gmail.com address: Alex Kowalski',
      expect: `Salesforce refuses it (validation rule ${VALIDATION_RULE.name}): the delivery goes dead at once with Salesforce's message; HubSpot and Slack still get it`,
      event: {
        id: id('lead-free-mail'),
        type: 'lead.qualified',
        occurred_at: at(5),
        contact: {
          email: 'alex.kowalski.consulting@gmail.com',
          name: 'Alex Kowalski',
          company: 'Kowalski Consulting',
          job_title: 'Owner',
        },
        conversation: {
          id: conv('alex'),
          channel: 'web',
          url: chatUrl('alex'),
          messages: [
            {
              role: 'user',
              text: 'I advise small clinics and want to resell your product.',
              at: at(7),
              author: 'Alex',
            },
            { role: 'bot', text: 'Happy to help! How many clients would you bring?', at: at(6, 30) },
            { role: 'user', text: 'About ten in the first year.', at: at(6), author: 'Alex' },
          ],
        },
        lead: { use_case: 'reseller', score: 68, timeline: 'Q2' },
      },
    },
  ];
}
