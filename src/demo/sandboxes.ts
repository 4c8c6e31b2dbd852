import { randomBytes } from 'node:crypto';
import { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { SlackSandbox } from '../../sandboxes/slack/index.ts';
import { WebhookSandbox } from '../../sandboxes/webhook/index.ts';
import { FREE_MAIL, VALIDATION_RULE } from './events.ts';

/** The four local stand-ins the demo delivers to, all on 127.0.0.1 and free ports. */
export interface DemoSandboxes {
  hubspot: HubSpotSandbox;
  salesforce: SalesforceSandbox;
  slack: SlackSandbox;
  /** Stands in for an n8n / Zapier / Make webhook. */
  webhook: WebhookSandbox;
  /** Path of the webhook receiver, as n8n would give it. */
  webhookPath: string;
  /** The Standard Webhooks secret leadrelay signs forwarded requests with. */
  webhookSecret: string;
  close(): Promise<void>;
}

export async function startSandboxes(): Promise<DemoSandboxes> {
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const started: { close(): Promise<void> }[] = [];
  try {
    const hubspot = await HubSpotSandbox.start();
    started.push(hubspot);
    const salesforce = await SalesforceSandbox.start();
    started.push(salesforce);
    // An admin's rule, as many orgs have: Leads need a business address.
    salesforce.addValidationRule('Lead', {
      ...VALIDATION_RULE,
      when: (record) => typeof record.Email === 'string' && FREE_MAIL.test(record.Email),
    });
    const slack = await SlackSandbox.start({
      channels: [
        { id: 'C0SALES01', name: 'sales' },
        { id: 'C0SUPPORT1', name: 'support' },
      ],
    });
    started.push(slack);
    const webhook = await WebhookSandbox.start({ secret: webhookSecret });
    started.push(webhook);
    return {
      hubspot,
      salesforce,
      slack,
      webhook,
      webhookPath: '/webhook/leadrelay-demo',
      webhookSecret,
      close: () => closeAll(started),
    };
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

async function closeAll(servers: { close(): Promise<void> }[]): Promise<void> {
  await Promise.allSettled(servers.map((server) => server.close()));
}

/** What the sandboxes hold now: the counts the summary prints and the test checks. */
export interface SandboxCounts {
  hubspot: { contacts: number; notes: number; contactEmails: string[] };
  salesforce: { leads: number; contacts: number; tasks: number; leadEmails: string[] };
  slack: { messages: Record<string, number> };
  webhook: { requests: number; delivered: number; signaturesValid: number };
}

export function sandboxCounts(sandboxes: DemoSandboxes): SandboxCounts {
  const { hubspot, salesforce, slack, webhook } = sandboxes;
  const messages: Record<string, number> = {};
  for (const channel of slack.channels) messages[`#${channel.name}`] = slack.messagesIn(channel.id).length;
  return {
    hubspot: {
      contacts: hubspot.state.contacts.size,
      notes: hubspot.state.notes.size,
      contactEmails: [...hubspot.state.contacts.values()]
        .map((contact) => contact.properties.email ?? '')
        .filter((email) => email !== ''),
    },
    salesforce: {
      leads: salesforce.leads.length,
      contacts: salesforce.contacts.length,
      tasks: salesforce.tasks.length,
      leadEmails: salesforce.leads.map((lead) => String(lead.Email ?? '')).filter((email) => email !== ''),
    },
    slack: { messages },
    webhook: {
      requests: webhook.received.length,
      delivered: webhook.delivered().length,
      signaturesValid: webhook.received.filter((request) => request.signatureValid === true).length,
    },
  };
}
