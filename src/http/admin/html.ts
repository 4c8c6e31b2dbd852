import { createHash } from 'node:crypto';
import { escapeHtml } from '../../util/escape-html.ts';

export { escapeHtml };

/** Markup that is already safe: produced by `html` or a constant. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(value: Part): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false || value === true) return '';
  return escapeHtml(String(value));
}

/**
 * A template tag that escapes every interpolated value (event data is
 * attacker-controlled) except nested `html` fragments.
 *
 * @example
 * html`<td>${event.contact.name}</td>` // "<td>&lt;script&gt;…</td>"
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let text = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) text += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(text);
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header strong{margin-right:1rem}
header form{margin-left:auto}
main{padding:1rem 1.2rem;max-width:72rem}
table{border-collapse:collapse;background:#fff;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #dde1e8;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#fff;border:1px solid #dde1e8;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
textarea{width:100%;min-height:14rem;font:13px monospace}
input[type=password],input[type=text]{padding:.3rem;min-width:14rem}
button{padding:.25rem .7rem;cursor:pointer}
.msg{padding:.5rem .8rem;background:#e6f4ea;border:1px solid #b7dfc3}
.err{padding:.5rem .8rem;background:#fdecea;border:1px solid #f5c2bd}
.s-dead{color:#b3261e;font-weight:600}.s-delivered{color:#1e7b34}.s-pending,.s-leased{color:#8a5a00}
.muted{color:#667}form.inline{display:inline}
`;

/** The Content-Security-Policy of every admin page: no scripts at all, only this stylesheet. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function page(
  title: string,
  body: Html,
  options: { csrf?: string | undefined; nav?: boolean } = {},
): string {
  const nav =
    options.nav === false || !options.csrf
      ? html``
      : html`<a href="/admin/">Queue</a><a href="/admin/dead">Dead deliveries</a><a href="/admin/events">Events</a><a href="/admin/preview">Preview</a><a href="/admin/sources">Sources</a>
<form class="inline" method="post" action="/admin/logout"><input type="hidden" name="csrf" value="${options.csrf}"><button type="submit">Log out</button></form>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · leadrelay admin</title><style>${new Html(STYLE)}</style></head>
<body><header><strong>leadrelay admin</strong>${nav}</header>
<main><h1>${title}</h1>
${body}
</main></body></html>`.text;
}

export function formatTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
