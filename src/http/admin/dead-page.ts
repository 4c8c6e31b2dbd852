import type Router from '@koa/router';
import type { LeadSummary } from '../../event/lead-summary.ts';
import { leadContacts } from '../../outbox/lead-contacts.ts';
import { type DeliveryRow, listDeliveries } from '../../outbox/list-deliveries.ts';
import { formatTime, type Html, html, page } from './html.ts';
import { type AdminDependencies, retryConnector, retryOne } from './operations.ts';
import { flashMessage, type PageContext, redirect, retryButton, send } from './page-kit.ts';
import { BadParameter, one, parseDeliveryId } from './params.ts';
import { attemptsLabel } from './render-event.ts';

/**
 * `/admin/dead`: dead deliveries with their lead, error and a Retry button.
 * After a Retry the retried delivery stays on the list, followed by the page
 * script until it is delivered or dead again (with its new error): a Retry
 * that fails again must not look like an empty list.
 */
export function deadRoutes(router: Router, deps: AdminDependencies): void {
  router.get('/dead', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const connector = one(ctx.query.connector);
    const dead = await listDeliveries(deps.store.db, { status: 'dead', connector, limit: 200 });
    const retried = retriedDelivery(one(ctx.query.retried));
    const followed =
      retried === undefined || dead.some((d) => d.id === retried)
        ? undefined
        : (await listDeliveries(deps.store.db, { id: retried, limit: 1 }))[0];
    const rows = followed ? [followed, ...dead] : dead;
    const leads = await leadContacts(
      deps.store,
      rows.map((d) => d.eventId),
    );
    const connectors = [...new Set(dead.map((d) => d.connector))].sort();
    send(
      ctx,
      200,
      page(
        connector ? `Dead deliveries to ${connector}` : 'Dead deliveries',
        html`${flashMessage(ctx)}${
          rows.length === 0
            ? html`<p>No dead deliveries.</p>`
            : html`<table class="dead"><thead><tr><th>lead</th><th>type</th><th>connector</th><th>status</th><th>tries</th><th>last change</th><th>error</th><th></th></tr></thead><tbody>
${rows.map((d) => deadRow(d, leads.get(d.eventId), csrf, d.id === retried))}</tbody></table>
${connectors.map(
  (
    name,
  ) => html`<form class="inline" method="post" action="/admin/connectors/${encodeURIComponent(name)}/retry-dead">
<input type="hidden" name="csrf" value="${csrf}"><button type="submit">Retry all dead for ${name}</button></form> `,
)}`
        }`,
        { csrf },
      ),
    );
  });

  router.post('/deliveries/:id/retry', async (ctx: PageContext) => {
    const id = parseDeliveryId(ctx.params.id ?? '');
    const outcome = await retryOne(deps, id);
    const back = ctx.state.form?.get('back') === 'event' ? ctx.state.form.get('event') : undefined;
    const target = back ? `/admin/events/${encodeURIComponent(back)}` : '/admin/dead';
    redirect(
      ctx,
      `${target}?${outcome.ok ? `retried=${id}` : `error=${encodeURIComponent(outcome.message)}`}${back ? `#delivery-${id}` : ''}`,
    );
  });

  router.post('/connectors/:connector/retry-dead', async (ctx: PageContext) => {
    const count = await retryConnector(deps, ctx.params.connector ?? '');
    redirect(ctx, `/admin/dead?requeued=${count}`);
  });
}

function retriedDelivery(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDeliveryId(value);
  } catch (error) {
    if (error instanceof BadParameter) return undefined;
    throw error;
  }
}

/** One row: the lead (linking to the event), the delivery's state, and Retry while it is dead. */
function deadRow(d: DeliveryRow, lead: LeadSummary | undefined, csrf: string, retried: boolean): Html {
  const follow = retried && (d.status === 'pending' || d.status === 'leased');
  const reach = [lead?.name ? lead.email : undefined, lead?.company].filter(Boolean).join(' · ');
  return html`<tr id="delivery-${d.id}"${follow ? html` data-follow="${d.id}"` : ''}${retried ? html` class="retried"` : ''}>
<td><a class="lead-name" href="/admin/events/${encodeURIComponent(d.eventId)}">${lead?.label ?? '(no contact)'}</a>${reach ? html`<br>${reach}` : ''}<br><span class="muted">${d.eventId} · delivery ${d.id}</span></td>
<td>${d.type}</td><td>${d.connector}</td><td><span class="s-${d.status}" data-part="status">${d.status}</span></td>
<td class="n" data-part="attempts">${attemptsLabel(d.attempts)}</td><td data-part="changed">${formatTime(d.updatedAt)}</td>
<td>${
    retried
      ? html`<p class="${d.status === 'dead' ? 'err' : d.status === 'delivered' ? 'msg' : 'following'}" data-part="outcome">${
          d.status === 'dead'
            ? `Dead again: ${d.lastError ?? ''}`
            : d.status === 'delivered'
              ? 'Delivered.'
              : 'Queued. Following…'
        }</p>`
      : html`<span data-part="error">${d.lastError}</span>`
  }</td>
<td><div data-part="retry"${d.status === 'dead' ? '' : html` hidden`}>${retryButton(d.id, csrf, 'dead')}</div></td></tr>`;
}
