import { once } from 'node:events';
import { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import { SANDBOX_DEFAULTS, SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { SlackSandbox } from '../../sandboxes/slack/index.ts';
import { WebhookSandbox } from '../../sandboxes/webhook/index.ts';
import { UsageError } from '../cli/usage-error.ts';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import { answerProblems, type Exchange, watchExchanges } from './sandbox-exchanges.ts';
import {
  type Holdings,
  hubspotHoldings,
  salesforceHoldings,
  slackHoldings,
  webhookHoldings,
} from './sandbox-holdings.ts';
import {
  DEFAULT_SANDBOX_PORTS,
  formatSetup,
  SANDBOX_KINDS,
  type SandboxFacts,
  type SandboxKind,
  sandboxSetup,
} from './sandbox-setup.ts';

export { DEFAULT_SANDBOX_PORTS, SANDBOX_KINDS, type SandboxKind } from './sandbox-setup.ts';

/** `leadrelay sandbox KIND [--port N] [--host 127.0.0.1] [--secret whsec_…]`, as options. */
export interface SandboxCommandOptions {
  /** `hubspot`, `salesforce`, `slack` or `webhook` (checked: a typo gets a "did you mean"). */
  kind: string;
  /** Default: the kind's fixed port (webhook 8088, hubspot 8091, salesforce 8092, slack 8093); 0 picks a free one. */
  port?: number | string | undefined;
  /** Only 127.0.0.1 (or `localhost`): a sandbox accepts a published token and must not be reachable from elsewhere. */
  host?: string | undefined;
  /** Webhook only: the Standard Webhooks secret (`whsec_…`) to check signatures with. */
  secret?: string | undefined;
  /** Where the setup text and the request lines go (default: stdout). */
  print?: (line: string) => void;
  /** Stops the sandbox when aborted. Without one, SIGINT (Ctrl-C) and SIGTERM do. */
  signal?: AbortSignal | undefined;
  /** Read for variables that would override `config/.env` (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A sandbox as the command runs it: its address, what it accepts, and how it is watched. */
interface Running {
  facts: SandboxFacts;
  port: number;
  holdings: Holdings;
  close(): Promise<void>;
}

/**
 * `leadrelay sandbox KIND`: starts one of the local imitations of HubSpot,
 * Salesforce, Slack or a webhook receiver in the foreground, prints the
 * connector file and `config/.env` lines that point leadrelay at it, then one
 * line per request it answers (method, path, status, the vendor's reason for
 * a refusal) and what that request changed in it, until the signal (or
 * Ctrl-C / SIGTERM). Resolves to the exit code, 0. Throws `UsageError` for
 * bad options and an `Error` naming the address when it cannot listen.
 *
 * @example
 * // In src/cli/main.ts:
 * const { runSandbox } = await import('../demo/sandbox-command.ts');
 * return runSandbox({ kind: positionals[0] ?? '', port: values.port, host: values.host, secret: values.secret });
 */
export async function runSandbox(options: SandboxCommandOptions): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const kind = checkKind(options.kind);
  const port = checkPort(options.port, kind);
  checkHost(options.host);
  const secret = checkSecret(options.secret, kind);

  const { signal, dispose } = stopSignal(options.signal);
  let running: Running | undefined;
  try {
    running = await start(kind, port, secret);
    const sandbox = running;
    const stopWatching = watchExchanges(sandbox.port, (exchange) => {
      for (const line of describe(exchange, VENDORS[kind], sandbox.holdings)) print(line);
    });
    try {
      for (const line of formatSetup(sandboxSetup(sandbox.facts), { kind, env: options.env ?? process.env }))
        print(line);
      if (!signal.aborted) await once(signal, 'abort');
    } finally {
      stopWatching();
    }
    print('Stopped; the sandbox kept nothing.');
    return 0;
  } finally {
    await running?.close();
    dispose();
  }
}

async function start(kind: SandboxKind, port: number, secret: string | undefined): Promise<Running> {
  try {
    switch (kind) {
      case 'hubspot': {
        const sandbox = await HubSpotSandbox.start({ port });
        return {
          facts: {
            kind,
            origin: sandbox.url,
            token: [...sandbox.tokens][0],
            portalId: sandbox.state.portalId,
          },
          port: portOf(sandbox.url),
          holdings: hubspotHoldings(sandbox),
          close: () => sandbox.close(),
        };
      }
      case 'salesforce': {
        const sandbox = await SalesforceSandbox.start({ port });
        return {
          facts: {
            kind,
            origin: sandbox.url,
            clientId: SANDBOX_DEFAULTS.clientId,
            clientSecret: SANDBOX_DEFAULTS.clientSecret,
          },
          port: portOf(sandbox.url),
          holdings: salesforceHoldings(sandbox),
          close: () => sandbox.close(),
        };
      }
      case 'slack': {
        const sandbox = await SlackSandbox.start({ port });
        return {
          facts: {
            kind,
            origin: sandbox.teamUrl.replace(/\/$/, ''),
            token: sandbox.token,
            apiUrl: sandbox.url,
            channels: sandbox.channels,
          },
          port: portOf(sandbox.url),
          holdings: slackHoldings(sandbox),
          close: () => sandbox.close(),
        };
      }
      case 'webhook': {
        const sandbox = await WebhookSandbox.start({ port, secret });
        return {
          facts: { kind, origin: sandbox.url, ...(secret ? { secret } : {}) },
          port: portOf(sandbox.url),
          holdings: webhookHoldings(sandbox, secret !== undefined),
          close: () => sandbox.close(),
        };
      }
    }
  } catch (error) {
    throw new Error(listenFailure(error as Error & { code?: string }, port), { cause: error });
  }
}

const VENDORS: Record<SandboxKind, string> = {
  hubspot: 'HubSpot',
  salesforce: 'Salesforce',
  slack: 'Slack',
  webhook: 'The receiver',
};

/** `10:04:01 POST /crm/v3/objects/contacts/batch/upsert → 200`, then indented detail lines. */
function describe(exchange: Exchange, vendor: string, holdings: Holdings): string[] {
  const time = new Date().toTimeString().slice(0, 8);
  const lines = [`${time} ${exchange.method} ${exchange.path} → ${exchange.status}`];
  const soql = exchange.path.endsWith('/query') ? exchange.query.get('q') : null;
  if (soql) lines.push(`    ${soql}`);
  for (const part of holdings.parts?.(exchange) ?? []) lines.push(`    ${part}`);
  for (const problem of answerProblems(exchange.answer))
    lines.push(`    ${vendor} ${problem.refused ? 'refused' : 'answered'}: ${problem.text}`);
  for (const change of holdings.changes(exchange)) lines.push(`    ${change}`);
  return lines;
}

function checkKind(kind: string): SandboxKind {
  if ((SANDBOX_KINDS as readonly string[]).includes(kind)) return kind as SandboxKind;
  if (!kind) throw new UsageError(`leadrelay sandbox: which one? ${SANDBOX_KINDS.join(', ')}`);
  throw new UsageError(
    `leadrelay sandbox: no sandbox "${kind}"${didYouMeanSuffix(kind, SANDBOX_KINDS)} (there are: ${SANDBOX_KINDS.join(', ')})`,
  );
}

function checkPort(port: number | string | undefined, kind: SandboxKind): number {
  if (port === undefined) return DEFAULT_SANDBOX_PORTS[kind];
  const value = typeof port === 'number' ? port : /^\d+$/.test(port.trim()) ? Number(port) : Number.NaN;
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new UsageError(
      `leadrelay sandbox: --port must be a port number (0–65535; 0 picks a free one), not "${port}"`,
    );
  return value;
}

function checkHost(host: string | undefined): void {
  if (host === undefined || host === '127.0.0.1' || host === 'localhost') return;
  throw new UsageError(
    `leadrelay sandbox: --host ${host} is not allowed: a sandbox listens on 127.0.0.1 only, since it accepts a published token and anyone who can reach it can read what it holds`,
  );
}

function checkSecret(secret: string | undefined, kind: SandboxKind): string | undefined {
  if (secret === undefined) return undefined;
  if (kind !== 'webhook')
    throw new UsageError(
      `leadrelay sandbox: --secret is for the webhook sandbox (it checks Standard Webhooks signatures)`,
    );
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret))
    throw new UsageError(
      'leadrelay sandbox: --secret must be a Standard Webhooks secret, whsec_ followed by base64 (the FORWARD_SECRET the connector signs with)',
    );
  return secret;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Why the sandbox could not listen, in words an admin can act on. */
function listenFailure(error: Error & { code?: string }, port: number): string {
  const where = `127.0.0.1:${port}`;
  if (error.code === 'EADDRINUSE')
    return `cannot listen on ${where}: the address is already in use (another sandbox or receiver? stop it, or pick a port with --port N and use the address it prints)`;
  if (error.code === 'EACCES')
    return `cannot listen on ${where}: permission denied (ports below 1024 need privileges; pick another with --port N)`;
  return `cannot start the sandbox on ${where}: ${error.message}`;
}

/** The caller's signal, or one that SIGINT / SIGTERM abort (removed again by `dispose`). */
function stopSignal(given: AbortSignal | undefined): { signal: AbortSignal; dispose(): void } {
  if (given) return { signal: given, dispose: () => {} };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
