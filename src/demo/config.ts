import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_DEFAULTS } from '../../sandboxes/salesforce/index.ts';
import type { DemoSandboxes } from './sandboxes.ts';

export const DEMO_SOURCE = 'website-bot';

export interface DemoConfigFiles {
  /** The main file (`leadrelay.yaml`); connector files are in `connectors/` beside it. */
  main: string;
  dbFile: string;
  logFile: string;
  /** The source's signing secret (also written in the main file). */
  sourceSecret: string;
  files: string[];
}

/**
 * Writes a complete configuration into `dir`: a main file on SQLite with a
 * short retry schedule, and one connector file per destination, each pointing
 * at its sandbox. These are ordinary config files: `leadrelay check --config
 * DIR/leadrelay.yaml` validates them and the other commands use them.
 */
export function writeDemoConfig(dir: string, sandboxes: DemoSandboxes): DemoConfigFiles {
  const sourceSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const dbFile = join(dir, 'leadrelay.db');
  const main = join(dir, 'leadrelay.yaml');
  const connectors = join(dir, 'connectors');
  mkdirSync(connectors, { recursive: true });

  const files: Record<string, string> = {
    [main]: `# Written by \`leadrelay demo\`: leadrelay on SQLite, delivering to local sandboxes.
server:
  host: 127.0.0.1
  port: 0 # a free port

database:
  url: "sqlite:${dbFile}"

sources:
  ${DEMO_SOURCE}:
    format: canonical
    verify: { scheme: standard-webhooks, secrets: ["${sourceSecret}"] }

routes:
  - on: lead.qualified
    to: [hubspot, salesforce, slack-sales]
  - on: conversation.escalated
    to: [slack-support]
  - on: feedback.submitted
    when: "feedback.rating <= 2"
    to: [slack-support]
  - on: "*" # everything also goes to an automation (n8n, Zapier, Make …)
    to: [forward]

delivery:
  # Short, so that the demo finishes quickly; see config/leadrelay.yaml for a production schedule.
  retry_schedule: [0s, 1s, 2s, 4s]
  poll_interval: 200ms
  shutdown_timeout: 5s
`,
    [join(connectors, 'hubspot.yaml')]: `# The HubSpot sandbox (a local imitation of HubSpot's CRM API).
type: hubspot
access_token: pat-sandbox
base_url: ${sandboxes.hubspot.url}
`,
    [join(connectors, 'salesforce.yaml')]:
      `# The Salesforce sandbox; it has a validation rule on Lead that refuses free-mail addresses.
type: salesforce
instance_url: ${sandboxes.salesforce.url}
client_id: ${SANDBOX_DEFAULTS.clientId}
client_secret: ${SANDBOX_DEFAULTS.clientSecret}
`,
    [join(connectors, 'slack-sales.yaml')]:
      `# Lead alerts in #sales, with buttons to the HubSpot and Salesforce records.
type: slack
token: ${sandboxes.slack.token}
base_url: ${sandboxes.slack.url}
channel: "#sales"
links_from: [hubspot, salesforce]
links_timeout: 15s
digest_after: 10
`,
    [join(connectors, 'slack-support.yaml')]: `# Escalations and bad ratings in #support.
type: slack
token: ${sandboxes.slack.token}
base_url: ${sandboxes.slack.url}
channel: "#support"
`,
    [join(connectors, 'forward.yaml')]:
      `# Every event, signed with Standard Webhooks, to a webhook receiver standing in for n8n or Zapier.
type: webhook
url: ${sandboxes.webhook.url}${sandboxes.webhookPath}
secret: "${sandboxes.webhookSecret}"
`,
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(file, text);
  return {
    main,
    dbFile,
    logFile: join(dir, 'leadrelay.log'),
    sourceSecret,
    files: Object.keys(files),
  };
}
