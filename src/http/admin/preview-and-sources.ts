import type Router from '@koa/router';
import type { Context } from 'koa';
import { ConfigError } from '../../config/config-error.ts';
import { type LoadedConfig, loadConfig } from '../../config/load-config.ts';
import { sourceReports } from '../../drift/drift-watch.ts';
import { formatSourceReport } from '../../drift/format-report.ts';
import { listEvents } from '../../outbox/list-events.ts';
import { formatPreview, PreviewError, previewEvent } from '../../preview/preview-event.ts';
import { formatStoredPreview, previewStoredEvent } from '../../preview/preview-stored-event.ts';
import { formatTime, type Html, html, page } from './html.ts';
import type { AdminDependencies } from './operations.ts';
import type { Session } from './sessions.ts';

type PageContext = Context & { state: { session?: Session; form?: URLSearchParams } };

/** How many recent events the picker offers. */
const RECENT = 20;

/**
 * `/admin/sources`: the drift watch's report per source (src/drift).
 *
 * `/admin/preview`: what an event would send, with nothing sent. Either a
 * pasted canonical event (through the configuration in force), or one of the
 * most recent events that really arrived — ignored ones too — through the
 * configuration files *as they are on disk now*, so an admin can try an edit
 * on real traffic before the server reloads it (`leadrelay preview --event`).
 */
export function previewAndSourcesRoutes(
  router: Router,
  deps: AdminDependencies,
  send: (ctx: Context, status: number, body: string) => void,
): void {
  router.get('/preview', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const eventId = typeof ctx.query.event === 'string' ? ctx.query.event : undefined;
    const output = eventId ? await storedPreview(deps, eventId) : html``;
    const picker = await recentEvents(deps, eventId);
    send(
      ctx,
      200,
      page('Preview', html`${picker}${output}${pasteForm(deps, csrf, '', undefined)}`, { csrf }),
    );
  });

  // Sources: what each platform sent lately and whether it changed (the drift watch's report).
  router.get('/sources', async (ctx: PageContext) => {
    const names = Object.keys(deps.config.current.main.sources);
    const reports = await sourceReports(deps.store.db, names);
    const body = reports.map(
      (report) =>
        html`<section class="source${report.warnings.length > 0 ? html` drift` : ''}"><pre>${formatSourceReport(report)}</pre></section>`,
    );
    send(
      ctx,
      200,
      page(
        'Sources',
        html`<p>What each source sent lately (the last 50 events against the 50 before), from the stored events. A warning is also sent as an ops alert, once.</p>${body}`,
        { csrf: ctx.state.session!.csrf },
      ),
    );
  });

  router.post('/preview', async (ctx: PageContext) => {
    const csrf = ctx.state.session!.csrf;
    const text = ctx.state.form?.get('event') ?? '';
    const source = ctx.state.form?.get('source') || undefined;
    let output: Html;
    try {
      const value = JSON.parse(text) as unknown;
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new PreviewError('paste one event: a JSON object');
      const entries = previewEvent(deps.config.current, value as Record<string, unknown>, { source });
      output = html`<h2>What would be sent</h2><pre class="preview">${formatPreview(entries)}</pre>`;
    } catch (error) {
      if (!(error instanceof PreviewError) && !(error instanceof SyntaxError)) throw error;
      output = html`<pre class="err">${error.message}</pre>`;
    }
    const picker = await recentEvents(deps, undefined);
    send(ctx, 200, page('Preview', html`${picker}${pasteForm(deps, csrf, text, source)}${output}`, { csrf }));
  });
}

async function storedPreview(deps: AdminDependencies, eventId: string): Promise<Html> {
  let onDisk: LoadedConfig;
  try {
    const current = deps.config.current;
    onDisk = await loadConfig(current.file, { env: { ...current.env } });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return html`<h2>The configuration files have errors</h2><pre class="err">${error.message}</pre>`;
  }
  try {
    const result = await previewStoredEvent(onDisk, deps.store.db, eventId);
    return html`<h2>Event ${result.id} under the files on disk now</h2><pre class="preview">${formatStoredPreview(result, formatPreview)}</pre>`;
  } catch (error) {
    if (!(error instanceof PreviewError)) throw error;
    return html`<pre class="err">${error.message}</pre>`;
  } finally {
    // Built for this preview only: release what they hold (clients, timers).
    await Promise.allSettled([...onDisk.connectors.values()].map((connector) => connector.close?.()));
  }
}

async function recentEvents(deps: AdminDependencies, selected: string | undefined): Promise<Html> {
  const { events } = await listEvents(deps.store, { limit: RECENT });
  if (events.length === 0) return html`<p>No events have arrived yet.</p>`;
  const rows = events.map(
    (event) =>
      html`<tr${event.id === selected ? html` class="selected"` : ''}><td><a href="/admin/preview?event=${encodeURIComponent(event.id)}">${formatTime(event.receivedAt)}</a></td><td>${event.source}</td><td>${event.status === 'ignored' ? 'ignored' : event.type}</td><td>${event.contactEmail ?? ''}</td></tr>`,
  );
  return html`<h2>Recent events</h2>
<p>Pick one to run what really arrived through the configuration files as they are on disk now (ignored events too). Nothing is sent.</p>
<table><thead><tr><th>received</th><th>source</th><th>stored as</th><th>email</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function pasteForm(deps: AdminDependencies, csrf: string, text: string, source: string | undefined): Html {
  const sources = Object.keys(deps.config.current.main.sources);
  return html`<h2>Or paste an event</h2><form method="post" action="/admin/preview"><input type="hidden" name="csrf" value="${csrf}">
<p>Paste a canonical event (JSON). Nothing is sent: this shows what each routed connector would send.</p>
<textarea name="event" spellcheck="false">${text}</textarea>
<p>as if from source <select name="source">${sources.map(
    (name) => html`<option value="${name}"${name === source ? html` selected` : ''}>${name}</option>`,
  )}</select> <button type="submit">Preview</button></p></form>`;
}
