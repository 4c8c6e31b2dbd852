import { MESSAGE_ROLES } from '../../event/canonical-event.ts';
import type { LeadSummary } from '../../event/lead-summary.ts';
import type { IdentityView } from '../../identity/show-identities.ts';
import type { CorrectionRow } from '../../outbox/record-correction.ts';
import type { DeliveryDetail, EventDetail } from '../../outbox/show-event.ts';
import { formatTime, type Html, html } from './html.ts';
import { httpUrl, recordLinks } from './links.ts';
import { retryButton } from './page-kit.ts';

/*
 * The parts of an event's page, for sales ops first: who the lead is, what
 * they said, where the event went (with links to the records), what an
 * operator corrected. Every value is event data or a destination's answer,
 * so it goes through `html` (escaped) and links through httpUrl.
 */

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function shown(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** "2 attempts", "1 attempt". */
export function attemptsLabel(count: number): string {
  return `${count} ${count === 1 ? 'attempt' : 'attempts'}`;
}

/** The lead: name, role and company, how to reach them, and what the event says about them. */
export function leadCard(lead: LeadSummary, event: Record<string, unknown>): Html {
  const role = [lead.jobTitle, lead.company].filter(Boolean).join(' at ');
  const reach = [lead.name ? lead.email : undefined, lead.name || lead.email ? lead.phone : undefined].filter(
    (part): part is string => Boolean(part),
  );
  const facts: [string, string | undefined][] = [];
  const about = record(event.lead);
  facts.push(['score', shown(about.score)], ['use case', shown(about.use_case)]);
  facts.push(['budget', shown(about.budget)], ['timeline', shown(about.timeline)]);
  const escalation = record(event.escalation);
  facts.push([
    'escalation',
    [shown(escalation.priority), shown(escalation.reason)].filter(Boolean).join(': '),
  ]);
  facts.push(['summary', shown(escalation.summary)]);
  const feedback = record(event.feedback);
  const rating = shown(feedback.rating);
  facts.push(['rating', rating ? `${rating} / 5` : undefined], ['comment', shown(feedback.comment)]);
  const present = facts.filter((fact): fact is [string, string] => Boolean(fact[1]));
  return html`<section class="lead"><h2 class="lead-name">${lead.label ?? 'No contact in this event'}</h2>
${role ? html`<p class="lead-company">${role}</p>` : ''}
${reach.length > 0 ? html`<p>${reach.join(' · ')}</p>` : ''}
${present.length > 0 ? html`<dl>${present.map(([name, value]) => html`<dt>${name}</dt><dd>${value}</dd>`)}</dl>` : ''}</section>`;
}

/** The conversation as a chat: role, author, time and text of each message. */
export function transcript(event: Record<string, unknown>): Html {
  const conversation = record(event.conversation);
  const messages = Array.isArray(conversation.messages) ? conversation.messages : [];
  const link = httpUrl(conversation.url);
  const about = [shown(conversation.channel), shown(conversation.id)].filter(Boolean).join(' · ');
  if (messages.length === 0 && !about && !link) return html``;
  return html`<h2>Conversation</h2>
<p class="muted">${about}${link ? html` · <a href="${link}" rel="noopener noreferrer" target="_blank">open in the chat platform</a>` : ''}</p>
${
  messages.length === 0
    ? html`<p class="muted">No transcript in this event.</p>`
    : html`<ol class="transcript">${messages.map((raw) => {
        const message = record(raw);
        const role = shown(message.role) ?? 'unknown';
        const known = (MESSAGE_ROLES as readonly string[]).includes(role) ? role : 'other';
        const at = typeof message.at === 'string' ? Date.parse(message.at) : Number.NaN;
        return html`<li class="m m-${known}"><div class="m-meta"><span class="m-role">${role}</span>${
          shown(message.author) ? html` <span class="m-author">${shown(message.author)}</span>` : ''
        }${Number.isFinite(at) ? html` <time>${formatTime(at)}</time>` : ''}</div><div class="m-text">${
          typeof message.text === 'string' ? message.text : ''
        }</div></li>`;
      })}</ol>`
}`;
}

/**
 * One delivery: status, attempts (as many as the rows below), last error,
 * record links, Retry when dead, and the attempt log. Unfinished ones are
 * followed by the page script until they are delivered or dead.
 */
export function deliverySection(d: DeliveryDetail, csrf: string, eventId: string): Html {
  const follow = d.status === 'pending' || d.status === 'leased';
  const links = recordLinks(d.result);
  return html`<section class="delivery" id="delivery-${d.id}"${follow ? html` data-follow="${d.id}"` : ''}>
<h2>→ ${d.connector}: <span class="s-${d.status} delivery-status" data-part="status">${d.status}</span>
<span class="muted">(delivery ${d.id}, <span data-part="attempts">${attemptsLabel(d.attempts)}</span>)</span></h2>
${follow ? html`<p class="following" data-part="outcome">${d.status === 'leased' ? 'Being delivered now' : 'Queued'}. Following…</p>` : ''}
<p class="err" data-part="error"${d.lastError ? '' : html` hidden`}>${d.lastError}</p>
<p class="links" data-part="links"${links.length > 0 ? '' : html` hidden`}>${links.map(
    (link) =>
      html`<a class="record-link" href="${link.url}" rel="noopener noreferrer" target="_blank">${link.label}</a> `,
  )}</p>
<div data-part="retry"${d.status === 'dead' ? '' : html` hidden`}>${retryButton(d.id, csrf, 'event', eventId)}</div>
<table><thead><tr><th>started</th><th>outcome</th><th>status</th><th>took</th><th>request</th><th>response / error</th></tr></thead><tbody data-part="attempt-rows">
${d.attemptLog.map(
  (
    a,
  ) => html`<tr><td>${formatTime(a.startedAt)}</td><td class="s-${a.outcome}">${a.outcome}</td><td>${a.statusCode}</td>
<td class="n">${a.durationMs} ms</td><td>${a.requestSummary}</td><td>${a.error ?? a.responseSummary}</td></tr>`,
)}${d.attemptLog.length === 0 ? html`<tr><td colspan="6" class="muted">no attempt yet</td></tr>` : ''}</tbody></table>
${conflictNotice(d.result)}
${d.result ? html`<details><summary>Result data</summary><pre>${JSON.stringify(d.result, null, 2)}</pre></details>` : ''}
</section>`;
}

function correctionValue(value: unknown, absent: string): Html {
  if (value === null || value === undefined) return html`<span class="muted">${absent}</span>`;
  return html`<code>${typeof value === 'string' ? value : JSON.stringify(value)}</code>`;
}

/** What operators corrected, oldest first: when, who, which field, before → after. */
export function correctionsTable(corrections: readonly CorrectionRow[]): Html {
  if (corrections.length === 0) return html``;
  return html`<h2>Corrections</h2>
<table class="corrections"><thead><tr><th>when</th><th>by</th><th>field</th><th>before</th><th>after</th></tr></thead><tbody>
${corrections.map(
  (
    c,
  ) => html`<tr><td>${formatTime(c.at)}</td><td>${c.by}${c.client ? html` <span class="muted">(${c.client})</span>` : ''}</td>
<td><code>${c.path}</code></td><td>${correctionValue(c.from, '(absent)')}</td><td>${correctionValue(c.to, '(removed)')}</td></tr>`,
)}</tbody></table>`;
}

/** The fields the correction dialog always offers; any other scalar field goes by its path. */
export const OFFERED_FIELDS = ['contact.name', 'contact.email', 'contact.phone', 'contact.company'] as const;

export interface CorrectionFormState {
  /** What the operator typed, by field path (`set.PATH` in the form). */
  values?: Record<string, string>;
  otherPath?: string;
  otherValue?: string;
  by?: string;
  errors?: { path: string; message: string }[];
  message?: string;
}

/**
 * The correction dialog: the offered fields with their current values, one
 * more by path, who is correcting, and "Correct and retry". Drawn open (and
 * opened as a modal by the script) when a correction was refused.
 */
export function correctionDialog(
  detail: EventDetail,
  csrf: string,
  state: CorrectionFormState | undefined,
  open: boolean,
): Html {
  const dead = detail.deliveries.filter((d) => d.status === 'dead').map((d) => d.connector);
  const contact = record(detail.event.contact);
  const current = (path: string) => shown(contact[path.slice('contact.'.length)]) ?? '';
  return html`<dialog id="correct"${open ? html` open data-show` : ''} aria-labelledby="correct-title">
<form method="post" action="/admin/events/${encodeURIComponent(detail.id)}/correct">
<input type="hidden" name="csrf" value="${csrf}">
<h2 id="correct-title">Correct and retry</h2>
<p class="muted">Fix what ${[...new Set(dead)].join(', ')} refused; the dead ${dead.length === 1 ? 'delivery is' : 'deliveries are'} then retried with the corrected event. The event as it arrived is kept, and the change is recorded with your name. Empty a field to remove it.</p>
${state?.message ? html`<p class="err">${state.message}</p>` : ''}
${
  state?.errors && state.errors.length > 0
    ? html`<ul class="err correction-errors">${state.errors.map((e) => html`<li><code>${e.path || 'event'}</code>: ${e.message}</li>`)}</ul>`
    : ''
}
<table><tbody>
${OFFERED_FIELDS.map(
  (path) =>
    html`<tr><th><label for="c-${path}">${path}</label></th><td><input type="text" id="c-${path}" name="set.${path}" value="${state?.values?.[path] ?? current(path)}"></td></tr>`,
)}
<tr><th><label for="c-other-path">another field</label></th><td><input type="text" id="c-other-path" name="path" placeholder="e.g. contact.job_title or lead.score" value="${state?.otherPath ?? ''}"></td></tr>
<tr><th><label for="c-other-value">its value</label></th><td><input type="text" id="c-other-value" name="value" value="${state?.otherValue ?? ''}"></td></tr>
<tr><th><label for="c-by">your name</label></th><td><input type="text" id="c-by" name="by" required maxlength="100" autocomplete="name" value="${state?.by ?? ''}"></td></tr>
</tbody></table>
<p><button type="submit">Correct and retry</button> <button type="submit" formmethod="dialog" formnovalidate>Cancel</button></p>
</form></dialog>`;
}

/**
 * A delivery that found the person's email on a different record than the
 * one this conversation (or phone) maps to: nothing was merged, and a person
 * must decide. Both records are linked when the connector gave their links.
 */
function conflictNotice(result: Record<string, unknown> | null): Html {
  const conflict = result?.conflict as
    | { identifier?: unknown; known?: unknown; used?: unknown; links?: unknown }
    | undefined;
  if (!conflict || typeof conflict !== 'object') return html``;
  const links = recordLinks({ links: conflict.links });
  return html`<p class="err conflict">Two records for one person: this event's <code>${String(conflict.identifier ?? '')}</code> belongs to <strong>${String(conflict.used ?? '')}</strong>, while this conversation was <strong>${String(conflict.known ?? '')}</strong>. Delivered to ${String(conflict.used ?? '')}; nothing was merged — merge them in the CRM if they are one person. ${links.map(
    (link) =>
      html`<a class="record-link" href="${link.url}" rel="noopener noreferrer" target="_blank">${link.label}</a> `,
  )}</p>`;
}

/** Who this person is in each destination: the identity map's records, and every identifier leading to each. */
export function identityPanel(people: readonly IdentityView[]): Html {
  if (people.length === 0) return html``;
  return html`<h2>This person in each destination</h2>
<table class="identities"><thead><tr><th>connector</th><th>record</th><th>known by</th></tr></thead><tbody>
${people.map(
  (view) =>
    html`<tr><td>${view.connector}</td><td><code>${view.record}</code></td><td>${view.identifiers.map(
      (entry) => html`<code>${entry.identifier}</code> <span class="muted">(${entry.eventId})</span><br>`,
    )}</td></tr>`,
)}</tbody></table>
${people.length > new Set(people.map((view) => view.connector)).size ? html`<p class="err">One connector holds this person as more than one record: see the identifiers above, and merge them in the CRM if they are one person.</p>` : ''}`;
}
