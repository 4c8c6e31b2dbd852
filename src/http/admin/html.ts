import { createHash } from 'node:crypto';
import { escapeHtml } from '../../util/escape-html.ts';
import { PAGE_SCRIPT, PAGE_SCRIPT_HASH } from './page-script.ts';

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
th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#fff;border:1px solid #dde1e8;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
textarea{width:100%;min-height:14rem;font:13px monospace}
input[type=password],input[type=text]{padding:.3rem;min-width:14rem}
button{padding:.25rem .7rem;cursor:pointer}
.msg{padding:.5rem .8rem;background:#e6f4ea;border:1px solid #b7dfc3}
.err{padding:.5rem .8rem;background:#fdecea;border:1px solid #f5c2bd}
.s-dead{color:#b3261e;font-weight:600}.s-delivered{color:#1e7b34}.s-pending,.s-leased{color:#8a5a00}
.muted{color:#667}form.inline{display:inline}
.following{padding:.5rem .8rem;background:#fff8e1;border:1px solid #f0d48a}
.lead{background:#fff;border:1px solid #dde1e8;padding:.7rem 1rem;margin:.5rem 0 1rem}
.lead h2{margin:0 0 .2rem;font-size:1.35rem}.lead p{margin:.2rem 0}.lead dl{margin:.4rem 0 0;display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem}.lead dt{color:#667}.lead dd{margin:0}
ol.transcript{list-style:none;padding:0;margin:.5rem 0 1rem;max-width:48rem}
ol.transcript li{margin:.35rem 0;padding:.4rem .7rem;border-radius:.5rem;background:#fff;border:1px solid #dde1e8;width:fit-content;max-width:85%}
ol.transcript li.m-user{margin-left:auto;background:#e8f0fe;border-color:#c4d7fb}
ol.transcript li.m-agent{background:#e6f4ea;border-color:#b7dfc3}ol.transcript li.m-system{background:#f1f1f1;font-style:italic}
.m-meta{font-size:12px;color:#667}.m-role{font-weight:600;text-transform:uppercase;letter-spacing:.03em}.m-text{white-space:pre-wrap;word-break:break-word}
section.delivery{margin-bottom:1.2rem}
a.record-link,a.button{display:inline-block;padding:.25rem .7rem;border:1px solid #1d4ed8;border-radius:.3rem;color:#1d4ed8;text-decoration:none;margin:.2rem .3rem .2rem 0}
dialog{border:1px solid #99a;border-radius:.5rem;padding:1rem 1.2rem;max-width:40rem;width:calc(100% - 3rem)}
dialog::backdrop{background:rgba(20,24,33,.45)}dialog table input{width:100%;box-sizing:border-box;min-width:0}
dialog h2{margin-top:0}
`;

/**
 * The Content-Security-Policy of every admin page: only this stylesheet and
 * the page's own script (page-script.ts), each by its hash; the script may
 * fetch from this origin only. An injected `<script>`, inline handler or
 * style never runs.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  `script-src ${PAGE_SCRIPT_HASH}`,
  "connect-src 'self'",
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
</main><script>${new Html(PAGE_SCRIPT)}</script></body></html>`.text;
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
