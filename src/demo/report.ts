import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.ts';
import { showEvent } from '../outbox/show-event.ts';
import type { DemoEvent } from './events.ts';
import { type DemoSandboxes, type SandboxCounts, sandboxCounts } from './sandboxes.ts';

/** One delivery as leadrelay's database has it, with what the matching sandbox holds. */
export interface DeliverySummary {
  id: number;
  connector: string;
  /** Connector type (hubspot, salesforce, slack, webhook). */
  type: string;
  status: string;
  attempts: number;
  /** The connector's own summary of the last successful attempt. */
  summary: string | null;
  lastError: string | null;
  result: Record<string, unknown> | null;
  /** What the sandbox shows for it (e.g. the Slack message as text). */
  landed: string[];
  /** Problems found comparing the database with the sandbox (empty: they agree). */
  problems: string[];
}

export interface EventSummary {
  key: string;
  label: string;
  expect: string;
  type: string;
  /** The chat platform's id (the idempotency key). */
  externalId: string;
  /** leadrelay's id (`ev_…`); empty when the POST was refused. */
  eventId: string;
  httpStatus: number;
  deliveries: DeliverySummary[];
}

export interface DemoSummary {
  /** Every delivery settled and the database agrees with the sandboxes. */
  ok: boolean;
  startedAt: string;
  /** From the first POST until every delivery was delivered or dead. */
  settleMs: number;
  settled: boolean;
  /** Stopped by SIGINT/SIGTERM before everything settled. */
  interrupted: boolean;
  url: string;
  adminUrl: string;
  configFile: string;
  totals: Record<string, number>;
  events: EventSummary[];
  sandboxes: SandboxCounts;
  problems: string[];
}

export interface Posted {
  demo: DemoEvent;
  httpStatus: number;
  eventId: string;
}

/** Reads every posted event's deliveries from the database and checks each against its sandbox. */
export async function buildSummary(
  db: Kysely<Tables>,
  sandboxes: DemoSandboxes,
  posted: Posted[],
  connectorTypes: ReadonlyMap<string, string>,
): Promise<{
  events: EventSummary[];
  sandboxes: SandboxCounts;
  problems: string[];
  totals: Record<string, number>;
}> {
  const events: EventSummary[] = [];
  const totals: Record<string, number> = { delivered: 0, dead: 0, pending: 0, leased: 0 };
  for (const item of posted) {
    const detail = item.eventId ? await showEvent(db, item.eventId) : undefined;
    const deliveries = (detail?.deliveries ?? []).map((delivery): DeliverySummary => {
      totals[delivery.status] = (totals[delivery.status] ?? 0) + 1;
      const lastDelivered = [...delivery.attemptLog].reverse().find((a) => a.outcome === 'delivered');
      const summary: DeliverySummary = {
        id: delivery.id,
        connector: delivery.connector,
        type: connectorTypes.get(delivery.connector) ?? 'unknown',
        status: delivery.status,
        attempts: delivery.attempts,
        summary: lastDelivered?.responseSummary ?? null,
        lastError: delivery.lastError,
        result: delivery.result,
        landed: [],
        problems: [],
      };
      crossCheck(summary, item, sandboxes);
      return summary;
    });
    events.push({
      key: item.demo.key,
      label: item.demo.label,
      expect: item.demo.expect,
      type: String(item.demo.event.type),
      externalId: String(item.demo.event.id),
      eventId: item.eventId,
      httpStatus: item.httpStatus,
      deliveries,
    });
  }
  const counts = sandboxCounts(sandboxes);
  const problems = [
    ...events.flatMap((event) =>
      event.deliveries.flatMap((d) => d.problems.map((p) => `${event.key} → ${d.connector}: ${p}`)),
    ),
    ...totalsProblems(events, counts),
  ];
  return { events, sandboxes: counts, problems, totals };
}

function crossCheck(delivery: DeliverySummary, item: Posted, sandboxes: DemoSandboxes): void {
  const result = delivery.result ?? {};
  const problem = (text: string) => delivery.problems.push(text);
  const email = (item.demo.event.contact as { email?: string } | undefined)?.email?.toLowerCase();
  if (delivery.status !== 'delivered') {
    if (delivery.status === 'dead' && delivery.type === 'salesforce' && email) {
      const found = sandboxes.salesforce.leads.find((lead) => String(lead.Email).toLowerCase() === email);
      if (found) problem(`dead, yet Salesforce has Lead ${found.Id} with ${email}`);
      else delivery.landed.push(`Salesforce has no Lead with ${email}`);
    }
    if (delivery.status !== 'dead') problem(`still ${delivery.status}`);
    return;
  }
  switch (delivery.type) {
    case 'hubspot': {
      const contact = sandboxes.hubspot.state.contacts.get(String(result.contact_id));
      const note = sandboxes.hubspot.state.notes.get(String(result.note_id));
      if (!contact) problem(`HubSpot has no contact ${String(result.contact_id)}`);
      if (!note) problem(`HubSpot has no note ${String(result.note_id)}`);
      else if (!note.contactIds.includes(String(result.contact_id)))
        problem(`note ${note.id} is not associated with contact ${String(result.contact_id)}`);
      if (contact) {
        const p = contact.properties;
        const who = [p.firstname, p.lastname].filter(Boolean).join(' ');
        delivery.landed.push(
          `HubSpot contact ${contact.id} now: ${who}${p.email ? ` <${p.email}>` : ''}${p.phone ? ` ${p.phone}` : ''}${p.jobtitle ? `, ${p.jobtitle}` : ''}; ${sandboxes.hubspot.state.notesOf(contact.id).length} note(s)`,
        );
      }
      break;
    }
    case 'salesforce': {
      const record = sandboxes.salesforce.record(String(result.id));
      if (!record) problem(`Salesforce has no ${String(result.object)} ${String(result.id)}`);
      if (result.task_id !== undefined) {
        const task = sandboxes.salesforce.record(String(result.task_id));
        if (!task) problem(`Salesforce has no Task ${String(result.task_id)}`);
        else if (task.WhoId !== result.id)
          problem(`Task ${task.Id} is on ${String(task.WhoId)}, not ${String(result.id)}`);
      }
      if (record) {
        const tasks = sandboxes.salesforce.tasks.filter((task) => task.WhoId === record.Id).length;
        delivery.landed.push(
          `Salesforce ${String(result.object)} ${record.Id} now: ${String(record.Name ?? '')}${record.Email ? ` <${String(record.Email)}>` : ''}${record.Phone ? ` ${String(record.Phone)}` : ''}, ${String(record.Company ?? '')}; ${tasks} Task(s)`,
        );
      }
      break;
    }
    case 'slack': {
      const message = sandboxes.slack.messages.find(
        (m) => m.channel === result.channel && m.ts === result.ts,
      );
      if (!message) problem(`Slack has no message ${String(result.ts)} in ${String(result.channel)}`);
      else delivery.landed.push(...sandboxes.slack.render(message).split('\n'));
      break;
    }
    case 'webhook': {
      const requests = sandboxes.webhook.received.filter((r) => r.id === item.eventId);
      const ok = requests.find((r) => r.status >= 200 && r.status < 300);
      if (!ok) problem(`the webhook receiver got no successful request for ${item.eventId}`);
      else
        delivery.landed.push(
          `POST ${ok.path} (${ok.body.length} bytes, webhook-id ${ok.id}, signature ${ok.signatureValid ? 'valid' : 'NOT valid'}) → ${ok.status}`,
        );
      if (ok && ok.signatureValid !== true) problem('the forwarded request was not validly signed');
      break;
    }
  }
}

/** The sandboxes hold exactly what the delivered rows say: nothing missing, nothing extra. */
function totalsProblems(events: EventSummary[], counts: SandboxCounts): string[] {
  const problems: string[] = [];
  const delivered = events.flatMap((e) => e.deliveries).filter((d) => d.status === 'delivered');
  const distinct = (type: string, key: string) =>
    new Set(delivered.filter((d) => d.type === type).map((d) => String(d.result?.[key]))).size;
  const expect = (what: string, actual: number, wanted: number) => {
    if (actual !== wanted)
      problems.push(`${what}: the sandbox holds ${actual}, leadrelay's database says ${wanted}`);
  };
  expect('HubSpot contacts', counts.hubspot.contacts, distinct('hubspot', 'contact_id'));
  expect('HubSpot notes', counts.hubspot.notes, distinct('hubspot', 'note_id'));
  expect(
    'Salesforce Leads',
    counts.salesforce.leads,
    new Set(
      delivered
        .filter((d) => d.type === 'salesforce' && d.result?.object === 'Lead')
        .map((d) => d.result?.id),
    ).size,
  );
  expect('Salesforce Tasks', counts.salesforce.tasks, distinct('salesforce', 'task_id'));
  const slackMessages = Object.values(counts.slack.messages).reduce((a, b) => a + b, 0);
  expect(
    'Slack messages',
    slackMessages,
    new Set(delivered.filter((d) => d.type === 'slack').map((d) => `${d.result?.channel}/${d.result?.ts}`))
      .size,
  );
  expect(
    'webhook requests answered 2xx',
    counts.webhook.delivered,
    delivered.filter((d) => d.type === 'webhook').length,
  );
  return problems;
}

/** The summary as people read it. */
export function formatSummary(summary: DemoSummary, options: { slackLines?: number } = {}): string {
  const maxSlack = options.slackLines ?? 24;
  const lines: string[] = [];
  lines.push('', 'Where each event landed', '');
  summary.events.forEach((event, index) => {
    lines.push(`${index + 1}. ${event.label}`);
    lines.push(
      `   ${event.type} · ${event.externalId} → ${event.eventId || '(refused)'} (HTTP ${event.httpStatus})`,
    );
    lines.push(`   expected: ${event.expect}`);
    for (const d of event.deliveries) {
      const what =
        d.status === 'delivered'
          ? (d.summary ?? '')
          : d.status === 'dead'
            ? (d.lastError ?? '')
            : (d.lastError ?? '');
      const mark = d.status === 'delivered' ? '✔' : d.status === 'dead' ? '✖' : '…';
      lines.push(`   ${mark} ${d.connector.padEnd(14)} ${d.status.toUpperCase().padEnd(9)} ${what}`);
      const landed =
        d.type === 'slack' && d.landed.length > maxSlack ? [...d.landed.slice(0, maxSlack), '  …'] : d.landed;
      for (const line of landed) lines.push(`       ${line}`);
      for (const problem of d.problems) lines.push(`       ✗ MISMATCH: ${problem}`);
    }
    if (event.deliveries.length === 0) lines.push('   (routed to no connector)');
    lines.push('');
  });
  const c = summary.sandboxes;
  const slack = Object.entries(c.slack.messages)
    .map(([channel, n]) => `${channel} ${n}`)
    .join(', ');
  lines.push('What the sandboxes hold now');
  lines.push(`   HubSpot     ${c.hubspot.contacts} contacts, ${c.hubspot.notes} notes`);
  lines.push(
    `   Salesforce  ${c.salesforce.leads} Leads, ${c.salesforce.contacts} Contacts, ${c.salesforce.tasks} Tasks`,
  );
  lines.push(`   Slack       messages: ${slack}`);
  lines.push(
    `   Webhook     ${c.webhook.requests} requests received, ${c.webhook.delivered} answered 2xx, ${c.webhook.signaturesValid} with a valid signature`,
  );
  lines.push('');
  const t = summary.totals;
  lines.push(
    `Deliveries: ${t.delivered ?? 0} delivered, ${t.dead ?? 0} dead${(t.pending ?? 0) + (t.leased ?? 0) > 0 ? `, ${(t.pending ?? 0) + (t.leased ?? 0)} not finished` : ''}${summary.settled ? ` — settled ${(summary.settleMs / 1000).toFixed(1)} s after the first event` : summary.interrupted ? ' — interrupted' : ' — NOT all settled in time'}`,
  );
  lines.push(
    summary.problems.length === 0
      ? "Cross-check: leadrelay's database and the sandboxes agree."
      : `Cross-check found ${summary.problems.length} problem(s):\n${summary.problems.map((p) => `   ✗ ${p}`).join('\n')}`,
  );
  return lines.join('\n');
}
