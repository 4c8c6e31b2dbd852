/**
 * What `leadrelay sandbox KIND` tells an admin to write so that a connector
 * delivers to the sandbox: the connector file and the `config/.env` lines.
 * The file reads every address and credential from `${VAR}`, with the real
 * vendor's address as the default, so the same file later goes to the real
 * HubSpot, Salesforce or Slack by changing `.env` alone.
 */

/** The destinations `leadrelay sandbox` imitates. */
export const SANDBOX_KINDS = ['hubspot', 'salesforce', 'slack', 'webhook'] as const;
export type SandboxKind = (typeof SANDBOX_KINDS)[number];

/**
 * Fixed ports, so that the `.env` lines printed once stay right across
 * restarts. 8088 with the path below is where the example `forward`
 * connector delivers when FORWARD_URL is unset.
 */
export const DEFAULT_SANDBOX_PORTS: Record<SandboxKind, number> = {
  webhook: 8088,
  hubspot: 8091,
  salesforce: 8092,
  slack: 8093,
};

/** The path the example `forward` connector posts to (config/connectors/forward.yaml). */
export const WEBHOOK_PATH = '/leadrelay';
const FORWARD_DEFAULT_URL = `http://127.0.0.1:${DEFAULT_SANDBOX_PORTS.webhook}${WEBHOOK_PATH}`;

/** What the sandbox that was started accepts, as the setup text needs it. */
export interface SandboxFacts {
  kind: SandboxKind;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** HubSpot: the private-app token it accepts. Slack: the bot token. */
  token?: string;
  /** Salesforce: the connected app's consumer key and secret (client credentials). */
  clientId?: string;
  clientSecret?: string;
  /** Slack: the Web API root (ends in `/api/`). */
  apiUrl?: string;
  /** Slack: the channels of its workspace. */
  channels?: { id: string; name: string }[];
  /** HubSpot: the portal id record links use. */
  portalId?: number;
  /** Webhook: the Standard Webhooks secret it checks signatures with. */
  secret?: string;
}

export interface SandboxSetup {
  /** What is listening where, in one line. */
  title: string;
  /** The connector file to write (or, for the webhook, the example one that already points here). */
  connectorFile: { path: string; yaml: string; exists: boolean };
  /** Lines for `config/.env`; empty when the connector file delivers here as it is. */
  env: string[];
  /** The values the connector file must read for its variables (an exported variable overrides `.env`). */
  expect: Record<string, string>;
  /** Where to look at what it holds, and what else to know. */
  notes: string[];
}

/**
 * The connector file and `.env` lines that point leadrelay at a running sandbox.
 *
 * @example
 * sandboxSetup({ kind: 'hubspot', origin: 'http://127.0.0.1:8091', token: 'pat-sandbox' }).env
 * // ['HUBSPOT_ACCESS_TOKEN=pat-sandbox', 'HUBSPOT_BASE_URL=http://127.0.0.1:8091']
 */
export function sandboxSetup(facts: SandboxFacts): SandboxSetup {
  const { origin } = facts;
  switch (facts.kind) {
    case 'hubspot':
      return {
        title: `HubSpot sandbox on ${origin} (portal ${facts.portalId}; private-app token ${facts.token})`,
        connectorFile: {
          path: 'config/connectors/hubspot.yaml',
          exists: false,
          yaml: [
            '# yaml-language-server: $schema=../schema/connectors/hubspot.schema.json',
            'type: hubspot',
            'access_token: "${HUBSPOT_ACCESS_TOKEN}"',
            'base_url: "${HUBSPOT_BASE_URL:-https://api.hubapi.com}"',
          ].join('\n'),
        },
        env: [`HUBSPOT_ACCESS_TOKEN=${facts.token}`, `HUBSPOT_BASE_URL=${origin}`],
        expect: { HUBSPOT_ACCESS_TOKEN: facts.token ?? '', HUBSPOT_BASE_URL: origin },
        notes: [
          'For the real HubSpot: your private-app token in HUBSPOT_ACCESS_TOKEN, and no HUBSPOT_BASE_URL line.',
        ],
      };
    case 'salesforce':
      return {
        title: `Salesforce sandbox on ${origin} (client credentials: ${facts.clientId} / ${facts.clientSecret})`,
        connectorFile: {
          path: 'config/connectors/salesforce.yaml',
          exists: false,
          yaml: [
            '# yaml-language-server: $schema=../schema/connectors/salesforce.schema.json',
            'type: salesforce',
            'instance_url: "${SF_INSTANCE_URL}"',
            'client_id: "${SF_CLIENT_ID}"',
            'client_secret: "${SF_CLIENT_SECRET}"',
          ].join('\n'),
        },
        env: [
          `SF_INSTANCE_URL=${origin}`,
          `SF_CLIENT_ID=${facts.clientId}`,
          `SF_CLIENT_SECRET=${facts.clientSecret}`,
        ],
        expect: {
          SF_INSTANCE_URL: origin,
          SF_CLIENT_ID: facts.clientId ?? '',
          SF_CLIENT_SECRET: facts.clientSecret ?? '',
        },
        notes: [
          `Its token endpoint is ${origin}/services/oauth2/token (login_url defaults to instance_url for client credentials).`,
          `Records as JSON: ${origin}/_sandbox/state`,
          "For a real org: its My Domain URL and your connected app's key and secret in those three lines.",
        ],
      };
    case 'slack': {
      const channels = (facts.channels ?? []).map((channel) => `#${channel.name} (${channel.id})`).join(', ');
      return {
        title: `Slack sandbox on ${origin} (bot token ${facts.token}; channels ${channels})`,
        connectorFile: {
          path: 'config/connectors/slack.yaml',
          exists: false,
          yaml: [
            '# yaml-language-server: $schema=../schema/connectors/slack.schema.json',
            'type: slack',
            'token: "${SLACK_BOT_TOKEN}"',
            'base_url: "${SLACK_API_URL:-https://slack.com/api/}"',
            `channel: "#${facts.channels?.[0]?.name ?? 'sales'}"`,
          ].join('\n'),
        },
        env: [`SLACK_BOT_TOKEN=${facts.token}`, `SLACK_API_URL=${facts.apiUrl}`],
        expect: { SLACK_BOT_TOKEN: facts.token ?? '', SLACK_API_URL: facts.apiUrl ?? '' },
        notes: [
          `Messages as text: ${origin}/_sandbox/transcript (as JSON: ${origin}/_sandbox/messages)`,
          'For the real Slack: your bot token (xoxb-…) in SLACK_BOT_TOKEN, and no SLACK_API_URL line.',
        ],
      };
    }
    case 'webhook': {
      const url = `${origin}${WEBHOOK_PATH}`;
      const env: string[] = [];
      if (url !== FORWARD_DEFAULT_URL) env.push(`FORWARD_URL=${url}`);
      if (facts.secret) env.push(`FORWARD_SECRET=${facts.secret}`);
      return {
        title: `Webhook receiver on ${url} (any path; standing in for n8n / Zapier / your own service)`,
        connectorFile: {
          path: 'config/connectors/forward.yaml',
          exists: true,
          yaml: [
            'type: webhook',
            `url: "\${FORWARD_URL:-${FORWARD_DEFAULT_URL}}"`,
            'secret: "${FORWARD_SECRET:-}"',
          ].join('\n'),
        },
        env,
        expect: { FORWARD_URL: url, ...(facts.secret ? { FORWARD_SECRET: facts.secret } : {}) },
        notes: [
          facts.secret
            ? 'Signatures are checked with --secret: a request that does not verify is answered 401.'
            : 'Signatures are not checked: start it with --secret whsec_… (the FORWARD_SECRET you use) to check them.',
          `What it received, as JSON: ${origin}/_sandbox/received`,
        ],
      };
    }
  }
}

/**
 * The setup as the terminal shows it, under the title.
 *
 * @example
 * formatSetup(sandboxSetup(facts), { env: process.env }).join('\n')
 */
export function formatSetup(
  setup: SandboxSetup,
  options: { kind: SandboxKind; env?: Readonly<Record<string, string | undefined>> },
): string[] {
  const indent = (text: string) => text.split('\n').map((line) => `    ${line}`);
  const file = setup.connectorFile;
  const lines = [setup.title, ''];
  if (file.exists) {
    lines.push(`The example connector ${file.path} delivers here:`, '', ...indent(file.yaml), '');
    if (setup.env.length === 0) lines.push('Nothing to change: send it events and they arrive here.', '');
  } else {
    lines.push(`To deliver to it, write ${file.path}:`, '', ...indent(file.yaml), '');
  }
  if (setup.env.length > 0) lines.push('Add to config/.env:', '', ...indent(setup.env.join('\n')), '');
  if (!file.exists) {
    lines.push(
      `and name ${options.kind} in a route of config/leadrelay.yaml, e.g. \`to: [forward, ${options.kind}]\`.`,
      'A running `leadrelay serve` picks up the new file and .env within a second.',
      '',
    );
  }
  for (const [name, value] of Object.entries(setup.expect)) {
    // The real environment wins over .env: a stale export would quietly point elsewhere.
    const current = options.env?.[name];
    if (current !== undefined && current !== '' && current !== value)
      lines.push(
        `Note: ${name} is set in this shell's environment (to something else), which wins over config/.env.`,
      );
  }
  lines.push(
    ...setup.notes,
    '',
    'Requests as they arrive (method path → status), and what each one carried or changed:',
  );
  return lines;
}
