import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../src/http/admin/html.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

const secret = newSecret();
const TOKEN = 'page-test-admin-token-0123456789';
const cleanups = cleanupsAfter('each');

async function start(): Promise<TestService> {
  const service = await startTestService(
    { sources: { site: { verify: { secrets: [secret] } } }, routes: [{ on: '*', to: ['hook'] }] },
    {
      env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
      connectors: {
        hook: { type: 'webhook', url: 'http://127.0.0.1:9/in', headers: { Authorization: 'Bearer s3cret' } },
      },
    },
  );
  cleanups.push(() => service.close());
  return service;
}

function form(fields: Record<string, string>) {
  return {
    method: 'POST',
    redirect: 'manual' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  };
}

async function login(service: TestService): Promise<{ cookie: string; csrf: string }> {
  const response = await fetch(`${service.url}/admin/login`, form({ token: TOKEN }));
  expect(response.status).toBe(303);
  expect(response.headers.get('location')).toBe('/admin/');
  const setCookie = response.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/^leadrelay_admin=[A-Za-z0-9_-]{43};/);
  expect(setCookie).toMatch(/httponly/i);
  expect(setCookie).toMatch(/samesite=strict/i);
  expect(setCookie).not.toContain(TOKEN);
  const cookie = setCookie.split(';')[0]!;
  const home = await (await fetch(`${service.url}/admin/`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(home)?.[1];
  expect(csrf).toBeTruthy();
  return { cookie, csrf: csrf! };
}

describe('admin page', () => {
  it('escapes every interpolated value', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    const name = '"><script>alert(1)</script>';
    expect(html`<td title="${name}">${name}${html`<b>ok</b>`}</td>`.text).toBe(
      '<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;<b>ok</b></td>',
    );
  });

  it('refuses without a session: pages redirect to the login form, forms are refused', async () => {
    const service = await start();
    for (const path of ['/admin/', '/admin/dead', '/admin/events', '/admin/preview', '/admin/nope']) {
      const response = await fetch(`${service.url}${path}`, { redirect: 'manual' });
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location')).toBe('/admin/login');
    }
    const forged = await fetch(`${service.url}/admin/deliveries/1/retry`, {
      ...form({ csrf: 'x' }),
      headers: { ...form({}).headers, cookie: 'leadrelay_admin=made-up' },
    });
    expect(forged.status).toBe(401);
    const wrong = await fetch(`${service.url}/admin/login`, form({ token: 'nope' }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('needs the CSRF token on every form, and sends no stack traces and a strict CSP', async () => {
    const service = await start();
    const { cookie, csrf } = await login(service);
    const withCookie = (fields: Record<string, string>) => {
      const request = form(fields);
      return { ...request, headers: { ...request.headers, cookie } };
    };
    const noCsrf = await fetch(`${service.url}/admin/connectors/hook/retry-dead`, withCookie({}));
    expect(noCsrf.status).toBe(403);
    const badCsrf = await fetch(`${service.url}/admin/logout`, withCookie({ csrf: `${csrf}x` }));
    expect(badCsrf.status).toBe(403);
    const ok = await fetch(`${service.url}/admin/connectors/hook/retry-dead`, withCookie({ csrf }));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/dead?requeued=0');

    const page = await fetch(`${service.url}/admin/`, { headers: { cookie } });
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const bad = await fetch(`${service.url}/admin/deliveries/abc/retry`, withCookie({ csrf }));
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toMatch(/at .*\.ts:\d+/);

    // Logout ends the session on the server.
    expect((await fetch(`${service.url}/admin/logout`, withCookie({ csrf }))).status).toBe(303);
    const after = await fetch(`${service.url}/admin/`, { headers: { cookie }, redirect: 'manual' });
    expect(after.headers.get('location')).toBe('/admin/login');
  });

  it('previews what each routed connector would send for a pasted event, escaped and with secrets masked', async () => {
    const service = await start();
    const { cookie, csrf } = await login(service);
    const preview = async (event: string) => {
      const request = form({ csrf, event, source: 'site' });
      const response = await fetch(`${service.url}/admin/preview`, {
        ...request,
        headers: { ...request.headers, cookie },
      });
      expect(response.status).toBe(200);
      return response.text();
    };
    const shown = await preview(
      JSON.stringify(
        leadEvent({ contact: { email: 'dana@acme.example', name: '</pre><script>x()</script>' } }),
      ),
    );
    expect(shown).toContain('── hook (webhook) ──');
    expect(shown).toContain('POST http://127.0.0.1:9/in');
    expect(shown).toContain('dana@acme.example');
    expect(shown).not.toContain('s3cret');
    expect(shown).not.toContain('<script>x()');
    expect(shown).toContain('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(await preview('{nope')).toMatch(/class="err">[^<]*JSON/);
    expect(await preview('{"type":"lead.qualified"}')).toContain('the event is not valid');
  });

  it('previews a recent event that really arrived under the configuration files on disk now, not the one in force', async () => {
    const service = await start();
    const { cookie } = await login(service);
    const event = leadEvent({ contact: { email: 'picked@acme.example', name: '<b>Dana</b>' } });
    const body = JSON.stringify(event);
    const accepted = await service.post('site', body, officialHeaders(secret, String(event.id), body));
    const id = String(accepted.json.id);
    const page = async (path: string) => {
      const response = await fetch(`${service.url}${path}`, { headers: { cookie } });
      expect(response.status).toBe(200);
      return response.text();
    };
    // The picker lists it, linking to its preview; the event page links there too.
    const picker = await page('/admin/preview');
    expect(picker).toContain(`/admin/preview?event=${id}`);
    expect(picker).toContain('picked@acme.example');
    expect(await page(`/admin/events/${id}`)).toContain(`/admin/preview?event=${id}`);
    // An edit on disk (not reloaded: this service does not watch) shows in the preview at once.
    const yaml = readFileSync(service.configFile, 'utf8');
    writeFileSync(service.configFile, yaml.replace(/on: "?\*"?/, 'on: feedback.submitted'));
    const shown = await page(`/admin/preview?event=${id}`);
    expect(shown).toContain(`event ${id} from site`);
    expect(shown).toContain('routes[0] → hook: no (not this type)');
    expect(shown).toContain('No route sends this event anywhere.');
    expect(shown).toContain('&lt;b&gt;Dana&lt;/b&gt;');
    // A broken file is shown as such, by line and column, without a stack.
    writeFileSync(service.configFile, `${yaml}\nroutes: [`);
    const broken = await page(`/admin/preview?event=${id}`);
    expect(broken).toContain('The configuration files have errors');
    expect(broken).toMatch(/leadrelay\.yaml:\d+:\d+/);
    expect(broken).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('lists events with a contact-email search and links to their timeline', async () => {
    const service = await start();
    const event = leadEvent({ contact: { email: 'searched@acme.example' } });
    const body = JSON.stringify(event);
    const posted = await service.post('site', body, officialHeaders(secret, String(event.id), body));
    await service.post('site', JSON.stringify(leadEvent()), {});
    const { cookie } = await login(service);
    const list = await (
      await fetch(`${service.url}/admin/events?email=SEARCHED%40acme.example`, { headers: { cookie } })
    ).text();
    expect(list).toContain(`href="/admin/events/${posted.json.id}"`);
    expect(list.match(/<tr><td>/g)).toHaveLength(1);
    const timeline = await (
      await fetch(`${service.url}/admin/events/${posted.json.id}`, { headers: { cookie } })
    ).text();
    expect(timeline).toContain('→ hook: <span class="s-pending delivery-status">pending</span>');
    expect(timeline).toContain('no attempt yet');
  });
});
