import type Router from '@koa/router';
import type { CorrectionValue, FieldCorrection } from '../../event/correct-event.ts';
import { leadSummary } from '../../event/lead-summary.ts';
import { identifiersOf } from '../../identity/identifiers.ts';
import { type IdentityView, showIdentities } from '../../identity/show-identities.ts';
import { listEvents } from '../../outbox/list-events.ts';
import { type EventDetail, showDelivery, showEvent } from '../../outbox/show-event.ts';
import type { Logger } from '../../util/logger.ts';
import { clientOf } from './client-of.ts';
import { correctStoredEvent } from './corrections.ts';
import { formatTime, html, page } from './html.ts';
import { recordLinks } from './links.ts';
import type { AdminDependencies } from './operations.ts';
import { replay } from './operations.ts';
import { flashMessage, type PageContext, redirect, send, sendJson } from './page-kit.ts';
import { encodeCursor, one, parseCursor, parseDeliveryId } from './params.ts';
import {
  type CorrectionFormState,
  correctionDialog,
  correctionsTable,
  deliverySection,
  identityPanel,
  leadCard,
  transcript,
} from './render-event.ts';

/**
 * `/admin/events…`: the event search, an event's page (the lead, the
 * conversation, each delivery with its record links and attempt log, the
 * corrections), Replay, the correction dialog's POST, and the JSON status
 * of one delivery that the page script polls while it follows a retry.
 */
export function eventRoutes(router: Router, deps: AdminDependencies & { logger: Logger }): void {
  router.get('/events', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const filter = { type: one(ctx.query.type), source: one(ctx.query.source), email: one(ctx.query.email) };
    const result = await listEvents(deps.store, {
      ...filter,
      cursor: parseCursor(one(ctx.query.cursor)),
      limit: 50,
    });
    const more = new URLSearchParams(
      Object.entries(filter).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    if (result.next) more.set('cursor', encodeCursor(result.next));
    send(
      ctx,
      200,
      page(
        'Events',
        html`<form method="get" action="/admin/events">
<input type="text" name="email" placeholder="contact email" value="${filter.email ?? ''}">
<input type="text" name="type" placeholder="type" value="${filter.type ?? ''}">
<input type="text" name="source" placeholder="source" value="${filter.source ?? ''}">
<button type="submit">Search</button></form>
<table><thead><tr><th>received</th><th>event</th><th>type</th><th>source</th><th>contact</th></tr></thead><tbody>
${result.events.map(
  (
    e,
  ) => html`<tr><td>${formatTime(e.receivedAt)}</td><td><a href="/admin/events/${encodeURIComponent(e.id)}">${e.id}</a><br><span class="muted">${e.externalId}</span></td>
<td>${e.type}</td><td>${e.source}</td><td>${e.contactEmail}</td></tr>`,
)}</tbody></table>
${result.events.length === 0 ? html`<p>No events match.</p>` : ''}
${result.next ? html`<a href="/admin/events?${more.toString()}">Older →</a>` : ''}`,
        { csrf },
      ),
    );
  });

  router.get('/events/:id', async (ctx: PageContext) => {
    const detail = await showEvent(deps.store.db, ctx.params.id ?? '');
    if (!detail) return notFound(ctx);
    const open = one(ctx.query.correct) !== undefined;
    const people = await showIdentities(deps.store.db, identifiersOf(detail.source, detail.event));
    send(
      ctx,
      200,
      eventPage(ctx, detail, open ? { by: ctx.state.session!.operator ?? '' } : undefined, people),
    );
  });

  router.post('/events/:id/replay', async (ctx: PageContext) => {
    const outcome = await replay(deps, ctx.params.id ?? '');
    if (!outcome) return redirect(ctx, '/admin/events');
    const message =
      outcome.deliveries.length === 0
        ? 'No route sends this event anywhere under the current configuration.'
        : `Queued again for ${outcome.connectors.join(', ')}.`;
    redirect(ctx, `/admin/events/${encodeURIComponent(outcome.eventId)}?msg=${encodeURIComponent(message)}`);
  });

  router.post('/events/:id/correct', async (ctx: PageContext) => {
    const id = ctx.params.id ?? '';
    const detail = await showEvent(deps.store.db, id);
    if (!detail) return notFound(ctx);
    const form = ctx.state.form!;
    const state = formState(form);
    const changes = formChanges(form, detail.event);
    const client = clientOf(ctx, deps.config);
    const outcome = await correctStoredEvent(deps, detail.id, {
      changes,
      by: state.by ?? '',
      client,
      retry: true,
    });
    if (!outcome.ok) {
      const refused = outcome.details
        ? { ...state, errors: outcome.details }
        : { ...state, message: outcome.message };
      if (outcome.status === 422) refused.message = 'Not corrected: the corrected event would not be valid.';
      return send(
        ctx,
        outcome.status,
        eventPage(
          ctx,
          (await showEvent(deps.store.db, id)) ?? detail,
          refused,
          await showIdentities(deps.store.db, identifiersOf(detail.source, detail.event)),
        ),
      );
    }
    ctx.state.session!.operator = state.by?.trim();
    deps.logger.info(
      { event_id: outcome.eventId, fields: outcome.corrections.map((c) => c.path), by: state.by, ip: client },
      'admin corrected an event',
    );
    const fields = outcome.corrections.map((c) => c.path).join(', ');
    const message = `Corrected ${fields}; ${outcome.retried.length} dead ${outcome.retried.length === 1 ? 'delivery' : 'deliveries'} queued again, followed below.`;
    redirect(ctx, `/admin/events/${encodeURIComponent(outcome.eventId)}?msg=${encodeURIComponent(message)}`);
  });

  router.get('/deliveries/:id/status', async (ctx: PageContext) => {
    const delivery = await showDelivery(deps.store.db, parseDeliveryId(ctx.params.id ?? ''));
    if (!delivery) return sendJson(ctx, 404, { error: 'not_found', message: 'no such delivery' });
    sendJson(ctx, 200, {
      id: delivery.id,
      eventId: delivery.eventId,
      status: delivery.status,
      attempts: delivery.attempts,
      lastError: delivery.lastError,
      nextAttemptAt: delivery.nextAttemptAt,
      updatedAt: delivery.updatedAt,
      links: recordLinks(delivery.result),
      attemptLog: delivery.attemptLog,
    });
  });

  function eventPage(
    ctx: PageContext,
    detail: EventDetail,
    correction: CorrectionFormState | undefined,
    people: readonly IdentityView[],
  ): string {
    const csrf = ctx.state.session!.csrf;
    const lead = leadSummary(detail.event.contact);
    const canCorrect = detail.deliveries.some((d) => d.status === 'dead');
    return page(
      `${lead.label ?? 'Event'} · ${detail.type}`,
      html`${flashMessage(ctx)}
${
  // A refusal the dialog cannot show, because nothing is dead to correct (any more).
  !canCorrect && correction?.message ? html`<p class="err">${correction.message}</p>` : ''
}
${leadCard(lead, detail.event)}
${
  canCorrect
    ? html`<p><a class="button" href="/admin/events/${encodeURIComponent(detail.id)}?correct=1#correct" data-opens="correct">Correct and retry…</a> <span class="muted">a value a destination refused (a mistyped email, a phone number)</span></p>
${correctionDialog(detail, csrf, correction ?? { by: ctx.state.session!.operator ?? '' }, correction !== undefined)}`
    : ''
}
${detail.deliveries.length === 0 ? html`<p>Routed to no connector.</p>` : ''}
${detail.deliveries.map((d) => deliverySection(d, csrf, detail.id))}
${identityPanel(people)}
${transcript(detail.event)}
${correctionsTable(detail.corrections)}
<h2>Event</h2>
<table><tbody><tr><th>event</th><td>${detail.id}</td></tr><tr><th>platform id</th><td>${detail.externalId}</td></tr><tr><th>type</th><td>${detail.type}</td></tr>
<tr><th>source</th><td>${detail.source}</td></tr><tr><th>received</th><td>${formatTime(detail.receivedAt)}</td></tr></tbody></table>
<form method="post" action="/admin/events/${encodeURIComponent(detail.id)}/replay"><input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Replay to current routes</button></form>
<p><a href="/admin/preview?event=${encodeURIComponent(detail.id)}">Preview under the configuration files on disk now</a> (nothing is sent)</p>
<details><summary>Event JSON${detail.receivedEvent ? ' (as corrected)' : ''}</summary><pre>${JSON.stringify(detail.event, null, 2)}</pre></details>
${detail.receivedEvent ? html`<details><summary>Event JSON as it arrived</summary><pre>${JSON.stringify(detail.receivedEvent, null, 2)}</pre></details>` : ''}`,
      { csrf },
    );
  }

  function notFound(ctx: PageContext): void {
    send(ctx, 404, page('Not found', html`<p>No event with that id.</p>`, { csrf: ctx.state.session!.csrf }));
  }
}

function formState(form: URLSearchParams): CorrectionFormState {
  const values: Record<string, string> = {};
  for (const [name, value] of form) if (name.startsWith('set.')) values[name.slice(4)] = value;
  return {
    values,
    otherPath: form.get('path') ?? '',
    otherValue: form.get('value') ?? '',
    by: form.get('by') ?? '',
  };
}

/**
 * The form's fields as corrections: `set.PATH` fields whose text differs
 * from the event's, and the free `path` / `value` pair. Text becomes a
 * number or true/false where the field holds one now; an emptied field is
 * removed.
 */
function formChanges(form: URLSearchParams, event: Record<string, unknown>): FieldCorrection[] {
  const changes: FieldCorrection[] = [];
  const add = (path: string, text: string) => {
    const current = valueAt(event, path);
    if (text === (current === undefined || current === null ? '' : String(current))) return;
    changes.push({ path, value: fromText(text, current, path) });
  };
  for (const [name, value] of form) if (name.startsWith('set.')) add(name.slice(4), value);
  const other = form.get('path')?.trim();
  if (other) add(other, form.get('value') ?? '');
  return changes;
}

function valueAt(event: Record<string, unknown>, path: string): unknown {
  let here: unknown = event;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (here === null || typeof here !== 'object' || !Object.hasOwn(here, part)) return undefined;
    here = (here as Record<string, unknown>)[part];
  }
  return here;
}

/** Canonical fields that hold numbers, for a value typed into a field the event does not have yet. */
const NUMBER_FIELDS = new Set(['lead.score', 'feedback.rating']);

function fromText(text: string, current: unknown, path: string): CorrectionValue {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const numeric = typeof current === 'number' || (current === undefined && NUMBER_FIELDS.has(path));
  if (numeric && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (typeof current === 'boolean' && (trimmed === 'true' || trimmed === 'false')) return trimmed === 'true';
  return trimmed;
}
