import type { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';
import type { SalesforceSandbox, SandboxRecord } from '../../sandboxes/salesforce/index.ts';
import type { SlackSandbox } from '../../sandboxes/slack/index.ts';
import type { ReceivedRequest, WebhookSandbox } from '../../sandboxes/webhook/index.ts';
import type { Exchange } from './sandbox-exchanges.ts';

/*
 * What `leadrelay sandbox` prints under each request: what the sandbox holds
 * that changed since the last request ("contact 101 created: dana@…"). Each
 * kind compares its records with a snapshot of the previous look, so the
 * lines say what a delivery did whatever endpoint (batch, composite, upsert)
 * did it.
 */

/** Lines about what changed in the sandbox, read after each answered request. */
export interface Holdings {
  /** The calls a request bundled (Salesforce's /composite), shown right under it. */
  parts?(exchange: Exchange): string[];
  changes(exchange: Exchange): string[];
}

/** Values that change on every write and say nothing about the mapping. */
const BOOKKEEPING = new Set([
  'lastmodifieddate',
  'hs_lastmodifieddate',
  'LastModifiedDate',
  'SystemModstamp',
]);

/**
 * HubSpot: contacts created or updated (with the properties that changed) and notes.
 *
 * @example
 * hubspotHoldings(sandbox).changes(exchange) // ['contact 101 created: dana@acme.example (Dana Reyes, Acme)']
 */
export function hubspotHoldings(sandbox: HubSpotSandbox): Holdings {
  const contacts = new Map<string, { updatedAt: string; properties: Record<string, string> }>();
  const notes = new Set<string>();
  return {
    changes() {
      const lines: string[] = [];
      for (const contact of sandbox.state.contacts.values()) {
        const before = contacts.get(contact.id);
        if (before && before.updatedAt === contact.updatedAt) continue;
        const p = contact.properties;
        const who = p.email || p.phone || '(no email or phone)';
        if (!before) {
          const about = [[p.firstname, p.lastname].filter(Boolean).join(' '), p.company].filter(Boolean);
          lines.push(`contact ${contact.id} created: ${who}${about.length ? ` (${about.join(', ')})` : ''}`);
        } else {
          lines.push(`contact ${contact.id} updated: ${who} (${changedKeys(before.properties, p)})`);
        }
        contacts.set(contact.id, { updatedAt: contact.updatedAt, properties: { ...p } });
      }
      for (const note of sandbox.state.notes.values()) {
        if (notes.has(note.id)) continue;
        notes.add(note.id);
        const on = note.contactIds.length ? ` on contact ${note.contactIds.join(', ')}` : ' (on no contact)';
        const size = (note.properties.hs_note_body ?? '').length;
        lines.push(`note ${note.id} created${on} (${size.toLocaleString('en-US')} characters)`);
      }
      return lines;
    },
  };
}

const SALESFORCE_OBJECTS = ['Lead', 'Contact', 'Account', 'Task'] as const;

/**
 * Salesforce: Leads, Contacts, Accounts and Tasks created or updated.
 *
 * @example
 * salesforceHoldings(sandbox).changes(exchange) // ['Lead 00Q… created: dana@acme.example (Dana Reyes, Acme)']
 */
export function salesforceHoldings(sandbox: SalesforceSandbox): Holdings {
  const seen = new Map<string, SandboxRecord>();
  let requestsShown = sandbox.requests.length;
  return {
    parts() {
      const lines: string[] = [];
      // A /composite call is several API calls in one: each is shown, since matching is done by them.
      for (const request of sandbox.requests.slice(requestsShown))
        for (const sub of request.subrequests ?? []) {
          const path = sub.path.replace(/^\/services\/data\/v[\d.]+\//, '');
          lines.push(`↳ ${sub.method} ${path} → ${sub.status}${sub.soql ? `: ${sub.soql}` : ''}`);
        }
      requestsShown = sandbox.requests.length;
      return lines;
    },
    changes() {
      const lines: string[] = [];
      for (const object of SALESFORCE_OBJECTS) {
        for (const record of sandbox.records(object)) {
          const before = seen.get(record.Id);
          seen.set(record.Id, record);
          if (!before) lines.push(`${object} ${record.Id} created: ${describeRecord(object, record)}`);
          else if (
            before.LastModifiedDate !== record.LastModifiedDate ||
            changedKeys(before, record) !== 'same values'
          )
            lines.push(
              `${object} ${record.Id} updated: ${describeRecord(object, record)} (${changedKeys(before, record)})`,
            );
        }
      }
      return lines;
    },
  };
}

function describeRecord(object: string, record: SandboxRecord): string {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  if (object === 'Task')
    return `on ${text(record.WhoId) ?? 'no record'}: ${text(record.Subject) ?? '(no subject)'}`;
  if (object === 'Account') return text(record.Name) ?? '(no name)';
  const about = [text(record.Name), text(record.Company)].filter(Boolean);
  const who = text(record.Email) ?? text(record.Phone) ?? '(no email or phone)';
  return `${who}${about.length ? ` (${about.join(', ')})` : ''}`;
}

/**
 * Slack: each message posted, as text, under its channel.
 *
 * @example
 * slackHoldings(sandbox).changes(exchange) // ['#sales · 10:04:01 · ts 1764…', '  ▌ 🎯 New qualified lead: Dana Reyes', …]
 */
export function slackHoldings(sandbox: SlackSandbox): Holdings {
  let shown = 0;
  return {
    changes() {
      const fresh = sandbox.messages.slice(shown);
      shown = sandbox.messages.length;
      return fresh.flatMap((message) => sandbox.render(message).split('\n'));
    },
  };
}

/**
 * Webhook: the event a request carried and whether its Standard Webhooks
 * signature verified.
 *
 * @example
 * webhookHoldings(sandbox, true).changes(exchange) // ['lead.qualified ev_01… · signature verified']
 */
export function webhookHoldings(sandbox: WebhookSandbox, checksSignatures: boolean): Holdings {
  return {
    changes(exchange) {
      // The sandbox keeps the request's own headers object: that is how its record is told apart.
      const record = sandbox.received.findLast((received) => received.headers === exchange.request.headers);
      if (!record) return [];
      return [`${whatArrived(record)} · ${signature(record, checksSignatures)}`];
    },
  };
}

function whatArrived(record: ReceivedRequest): string {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const type = (body as { type?: unknown } | undefined)?.type;
  const id = record.id || '(no webhook-id header)';
  if (typeof type === 'string') return `${type} ${id}`;
  // A custom `body:` template: show its start, which is what the admin is checking.
  const start = record.body.replace(/\s+/g, ' ').trim();
  return `${id}: ${start.length > 160 ? `${start.slice(0, 159)}…` : start || '(empty body)'}`;
}

function signature(record: ReceivedRequest, checksSignatures: boolean): string {
  const signed = record.headers['webhook-signature'] !== undefined;
  if (!checksSignatures)
    return signed ? 'signed (not checked: start the sandbox with --secret to check it)' : 'unsigned';
  if (record.signatureValid) return 'signature verified';
  return signed
    ? 'signature did NOT verify with --secret (answered 401)'
    : 'unsigned, but --secret expects a signature (answered 401)';
}

/** `phone, jobtitle changed`, or `same values`. */
function changedKeys(before: Record<string, unknown>, after: Record<string, unknown>): string {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...keys].filter(
    (key) => !BOOKKEEPING.has(key) && JSON.stringify(before[key]) !== JSON.stringify(after[key]),
  );
  return changed.length ? `${changed.join(', ')} changed` : 'same values';
}
