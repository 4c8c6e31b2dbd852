import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import { SalesforceSandbox } from '../../sandboxes/salesforce/index.ts';
import { SlackSandbox } from '../../sandboxes/slack/index.ts';
import { sandboxAuth } from '../fixtures/salesforce/helpers.ts';
import { leadEvent, officialHeaders } from '../helpers/sign.ts';

export interface Reply {
  status: number;
  json: Record<string, unknown>;
}

/** POSTs a freshly signed copy of `event`; throws when the connection fails. */
export async function postSigned(
  url: string,
  secret: string,
  event: Record<string, unknown>,
  signal?: AbortSignal,
  source = 'site',
): Promise<Reply> {
  const body = JSON.stringify(event);
  const response = await fetch(`${url}/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...officialHeaders(secret, String(event.id), body) },
    body,
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: response.status, json };
}

/** `count` lead events over `contacts` distinct emails; each event's message text is unique. */
export function events(count: number, contacts: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const event = leadEvent({
      id: `${tag}_${i}`,
      contact: { email: `${tag}-${i % contacts}@acme.example`, name: `Lead ${i % contacts}` },
    });
    event.conversation = {
      id: `conv_${tag}_${i}`,
      channel: 'web',
      messages: [{ role: 'user', text: `msg ${tag} ${i}` }],
    };
    return event;
  });
}

/** Resident set size of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw HTTP request (for bodies fetch will not send: slow streams, odd headers). */
export function rawRequest(
  url: string,
  options: {
    method: string;
    path: string;
    headers: Record<string, string>;
    chunks: Buffer[];
    chunkDelayMs?: number;
    /** On a connection of its own rather than the global agent's kept-alive ones. */
    newConnection?: boolean;
  },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method,
        path: options.path,
        headers: options.headers,
        ...(options.newConnection ? { agent: false } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('client timeout')));
    req.on('error', (error) => {
      // The server may answer (413) and close before the body is fully sent.
      // Then give its answer a moment to arrive; without one the status is 0.
      if ('code' in error && (error.code === 'EPIPE' || error.code === 'ECONNRESET')) {
        setTimeout(() => resolve({ status: 0, body: '' }), 500);
        return;
      }
      reject(error);
    });
    void (async () => {
      for (const chunk of options.chunks) {
        if (req.destroyed) return;
        req.write(chunk);
        if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
      }
      req.end();
    })();
  });
}

export interface CrmSandboxes {
  hubspot: HubSpotSandbox;
  salesforce: SalesforceSandbox;
  slack: SlackSandbox;
  /** Connector files `hubspot`, `salesforce` and `slack` pointed at these sandboxes, with `extra` keys on each. */
  connectorFiles(extra?: Record<string, unknown>): Record<string, Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * HubSpot, Salesforce and Slack sandboxes without their rate limits: the
 * scenarios are about faults and crashes, and Slack's one message per second
 * would make a thousand alerts take a quarter of an hour.
 */
export async function startCrmSandboxes(): Promise<CrmSandboxes> {
  const hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 1_000_000 });
  const salesforce = await SalesforceSandbox.start({ dailyLimit: 1_000_000 });
  const slack = await SlackSandbox.start({ channelIntervalMs: 0 });
  return {
    hubspot,
    salesforce,
    slack,
    connectorFiles: (extra = {}) => ({
      hubspot: {
        type: 'hubspot',
        access_token: 'pat-sandbox',
        base_url: hubspot.url,
        rate_limit: 'off',
        ...extra,
      },
      salesforce: { type: 'salesforce', ...sandboxAuth(salesforce), rate_limit: 'off', ...extra },
      slack: {
        type: 'slack',
        token: slack.token,
        base_url: slack.url,
        channel: '#sales',
        channel_interval: '0s',
        ...extra,
      },
    }),
    close: async () => {
      await Promise.all([hubspot.close(), salesforce.close(), slack.close()]);
    },
  };
}
