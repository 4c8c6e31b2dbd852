import { createHash } from 'node:crypto';

/*
 * The admin page's only script, inline and allowed by its hash in the
 * Content-Security-Policy (nothing else runs). Two jobs:
 *
 * - Following: an element with `data-follow="DELIVERY_ID"` (a delivery just
 *   retried, or still pending or leased when the page was drawn) polls
 *   `/admin/deliveries/ID/status` — every second for a minute, then every
 *   5 s, for 10 minutes — and redraws its parts (`data-part=…`) until the
 *   delivery is delivered or dead, so the outcome of a Retry shows without
 *   a reload. Everything is written with textContent and createElement:
 *   event and error text never becomes markup; links keep only http(s).
 * - The correction dialog: a link with `data-opens="ID"` opens `<dialog
 *   id=ID>` as a modal (without the script, the link reloads the page with
 *   the dialog drawn open); a dialog drawn with `data-show` opens at load.
 */
export const PAGE_SCRIPT = `(() => {
  'use strict';
  const FAST_MS = 1000, SLOW_MS = 5000, FAST_FOR_MS = 60000, FOLLOW_FOR_MS = 600000;
  const FINAL = ['delivered', 'dead'];
  const time = (ms) => new Date(ms).toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, 'Z');
  const plural = (n) => n + (n === 1 ? ' attempt' : ' attempts');
  const safeUrl = (value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
    } catch {
      return undefined;
    }
  };
  const cell = (row, text, className) => {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (className) td.className = className;
    row.append(td);
  };

  function draw(box, d) {
    const parts = (name) => box.querySelectorAll('[data-part="' + name + '"]');
    const status = /^[a-z]+$/.test(d.status) ? d.status : 'unknown';
    for (const el of parts('status')) {
      el.textContent = status;
      el.className = 's-' + status + (el.classList.contains('delivery-status') ? ' delivery-status' : '');
    }
    for (const el of parts('attempts')) el.textContent = plural(d.attempts);
    for (const el of parts('error')) {
      el.textContent = d.lastError || '';
      el.hidden = !d.lastError;
    }
    for (const el of parts('changed')) el.textContent = time(d.updatedAt);
    for (const el of parts('retry')) el.hidden = status !== 'dead';
    for (const el of parts('outcome')) {
      el.className = status === 'dead' ? 'err' : status === 'delivered' ? 'msg' : 'following';
      el.textContent =
        status === 'delivered' ? 'Delivered.'
        : status === 'dead' ? 'Dead again: ' + (d.lastError || 'no error recorded')
        : d.lastError ? 'Failed (' + d.lastError + '); next try at ' + time(d.nextAttemptAt) + '. Following…'
        : (status === 'leased' ? 'Being delivered now' : 'Queued') + '. Following…';
    }
    for (const el of parts('links')) {
      el.replaceChildren();
      for (const link of d.links || []) {
        const href = safeUrl(link.url);
        if (!href) continue;
        const a = document.createElement('a');
        a.href = href;
        a.rel = 'noopener noreferrer';
        a.target = '_blank';
        a.className = 'record-link';
        a.textContent = link.label;
        el.append(a, ' ');
      }
      el.hidden = el.childElementCount === 0;
    }
    for (const el of parts('attempt-rows')) {
      el.replaceChildren();
      for (const a of d.attemptLog || []) {
        const row = document.createElement('tr');
        cell(row, time(a.startedAt));
        cell(row, a.outcome, /^[a-z]+$/.test(a.outcome) ? 's-' + a.outcome : '');
        cell(row, a.statusCode);
        cell(row, a.durationMs + ' ms', 'n');
        cell(row, a.requestSummary);
        cell(row, a.error || a.responseSummary);
        el.append(row);
      }
      if (el.childElementCount === 0) {
        const row = document.createElement('tr');
        cell(row, 'no attempt yet', 'muted');
        row.firstChild.colSpan = 6;
        el.append(row);
      }
    }
  }

  function follow(box) {
    const id = box.dataset.follow;
    const started = Date.now();
    const poll = async () => {
      let d;
      try {
        const response = await fetch('/admin/deliveries/' + encodeURIComponent(id) + '/status', {
          headers: { accept: 'application/json' },
          credentials: 'same-origin',
          cache: 'no-store',
        });
        if ((response.headers.get('content-type') || '').startsWith('application/json') && response.ok)
          d = await response.json();
        else if (!response.ok || response.redirected) {
          for (const el of box.querySelectorAll('[data-part="outcome"]'))
            el.textContent = 'Stopped following (the session ended?); reload the page.';
          return;
        }
      } catch {
        // The server restarting, a network blip: look again at the next turn.
      }
      if (d) draw(box, d);
      if (d && FINAL.includes(d.status)) {
        box.removeAttribute('data-follow');
        box.dataset.settled = d.status;
        return;
      }
      const age = Date.now() - started;
      if (age < FOLLOW_FOR_MS) setTimeout(poll, age < FAST_FOR_MS ? FAST_MS : SLOW_MS);
      else for (const el of box.querySelectorAll('[data-part="outcome"]'))
        el.textContent = 'Still not finished after 10 minutes; reload the page to see it later.';
    };
    setTimeout(poll, FAST_MS);
  }

  for (const box of document.querySelectorAll('[data-follow]')) follow(box);

  for (const opener of document.querySelectorAll('a[data-opens]')) {
    const dialog = document.getElementById(opener.dataset.opens);
    if (!dialog || typeof dialog.showModal !== 'function') continue;
    opener.addEventListener('click', (event) => {
      event.preventDefault();
      if (!dialog.open) dialog.showModal();
    });
  }
  for (const dialog of document.querySelectorAll('dialog[data-show]')) {
    if (typeof dialog.showModal !== 'function') continue;
    if (dialog.open) dialog.close();
    dialog.showModal();
  }
})();`;

/** The CSP source that allows exactly {@link PAGE_SCRIPT}. */
export const PAGE_SCRIPT_HASH = `'sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}'`;
