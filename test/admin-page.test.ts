import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../src/http/admin/html.ts';
import { adminServiceWithWebhook } from './helpers/admin-fixture.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

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
    expect(timeline).toContain(
      '→ hook: <span class="s-pending delivery-status" data-part="status">pending</span>',
    );
    expect(timeline).toContain('no attempt yet');
    // Still pending: the page script follows it.
    expect(timeline).toMatch(/<section class="delivery" id="delivery-\d+" data-follow="\d+">/);
  });

  it('shows the lead, the conversation and clickable record links, with hostile event and result content inert', async () => {
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook', 'crm'] }],
      },
      { env: { LEADRELAY_ADMIN_TOKEN: TOKEN } },
    );
    cleanups.push(() => service.close());
    const event = leadEvent({
      contact: {
        name: '<img src=x onerror=alert(1)>Dana',
        email: 'dana@acme.example',
        company: 'Acme <b>Corp</b>',
        job_title: 'COO',
      },
      conversation: {
        id: 'conv_8842',
        channel: 'web',
        url: 'javascript:alert(1)',
        messages: [
          { role: 'bot', text: 'Hi! What brings you here?', at: '2026-11-25T10:01:00Z' },
          {
            role: 'user',
            author: '<script>alert(2)</script>',
            text: '</li><script>alert(3)</script>',
            at: '2026-11-25T10:01:20Z',
          },
        ],
      },
    });
    const body = JSON.stringify(event);
    const id = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );
    // What a connector returned (a third-party one, or a CRM echoing input): only http(s) links become links.
    const result = {
      links: [
        { label: 'Open in HubSpot', url: 'https://app.hubspot.com/contacts/62515001/record/0-1/101' },
        { label: '<b>evil</b>', url: 'javascript:alert(4)' },
        { label: 'data', url: 'data:text/html,<script>alert(5)</script>' },
      ],
    };
    await service.store.db
      .updateTable('deliveries')
      .set({ status: 'delivered', result: JSON.stringify(result) })
      .where('event_id', '=', id)
      .where('connector', '=', 'crm')
      .execute();
    await service.store.db
      .updateTable('deliveries')
      .set({ status: 'dead', last_error: 'HTTP 422: company is required' })
      .where('event_id', '=', id)
      .where('connector', '=', 'hook')
      .execute();
    const { cookie } = await login(service);
    const get = async (path: string) => {
      const response = await fetch(`${service.url}${path}`, { headers: { cookie } });
      expect(response.status).toBe(200);
      return { text: await response.text(), csp: response.headers.get('content-security-policy') ?? '' };
    };

    const { text: shown, csp } = await get(`/admin/events/${id}`);
    expect(shown).toContain('<h2 class="lead-name">&lt;img src=x onerror=alert(1)&gt;Dana</h2>');
    expect(shown).toContain('<p class="lead-company">COO at Acme &lt;b&gt;Corp&lt;/b&gt;</p>');
    expect(shown).toContain(
      '<li class="m m-bot"><div class="m-meta"><span class="m-role">bot</span> <time>2026-11-25 10:01:00Z</time></div><div class="m-text">Hi! What brings you here?</div></li>',
    );
    expect(shown).toContain(
      '<span class="m-role">user</span> <span class="m-author">&lt;script&gt;alert(2)&lt;/script&gt;</span>',
    );
    expect(shown).toContain('<div class="m-text">&lt;/li&gt;&lt;script&gt;alert(3)&lt;/script&gt;</div>');
    expect(shown).toContain(
      '<a class="record-link" href="https://app.hubspot.com/contacts/62515001/record/0-1/101" rel="noopener noreferrer" target="_blank">Open in HubSpot</a>',
    );
    expect(shown).not.toMatch(/href="\s*(javascript|data):/i);
    expect(shown).not.toContain('open in the chat platform');
    // One script only, the page's own, and the policy allows exactly it (no 'unsafe-inline').
    const scripts = [...shown.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]![1]!).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).not.toContain('unsafe');

    // The dead list names the lead too, linking to the event.
    const { text: dead } = await get('/admin/dead');
    expect(dead).toContain(
      `<a class="lead-name" href="/admin/events/${id}">&lt;img src=x onerror=alert(1)&gt;Dana</a><br>dana@acme.example · Acme &lt;b&gt;Corp&lt;/b&gt;`,
    );
    expect(dead).toContain('HTTP 422: company is required');
  });

  it('counts attempts as the timeline lists them across a retry, and keeps a retried delivery on the dead list', async () => {
    const { sandbox, service } = await adminServiceWithWebhook({ secret, token: TOKEN, cleanups });
    sandbox.failNext(2, { status: 422, body: '{"message":"company is required"}' });
    const event = leadEvent();
    const body = JSON.stringify(event);
    const id = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );
    const delivery = async () =>
      service.store.db
        .selectFrom('deliveries')
        .select(['id', 'status', 'attempts'])
        .where('event_id', '=', id)
        .executeTakeFirstOrThrow();
    await until(async () => (await delivery()).status === 'dead', 'dead');
    const deliveryId = Number((await delivery()).id);
    const { cookie, csrf } = await login(service);

    const retry = await fetch(`${service.url}/admin/deliveries/${deliveryId}/retry`, {
      ...form({ csrf, back: 'dead' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(retry.status).toBe(303);
    expect(retry.headers.get('location')).toBe(`/admin/dead?retried=${deliveryId}`);
    // Whatever state it is in by now, the retried delivery is on the page, not "No dead deliveries".
    const after = await (
      await fetch(`${service.url}/admin/dead?retried=${deliveryId}`, { headers: { cookie } })
    ).text();
    expect(after).not.toContain('No dead deliveries');
    expect(after).toContain(`<tr id="delivery-${deliveryId}"`);
    expect(after).toMatch(/class="(following|err)" data-part="outcome">(Queued\. Following…|Dead again: )/);

    await until(
      async () => (await delivery()).status === 'dead' && sandbox.received.length === 2,
      'dead again',
    );
    // The schedule's counter restarted at the retry; what the page shows is what was tried.
    expect(Number((await delivery()).attempts)).toBe(1);
    const timeline = await (await fetch(`${service.url}/admin/events/${id}`, { headers: { cookie } })).text();
    expect(timeline).toContain('<span data-part="attempts">2 attempts</span>');
    expect(timeline.match(/<td class="s-dead">dead<\/td>/g)).toHaveLength(2);
    const dead = await (await fetch(`${service.url}/admin/dead`, { headers: { cookie } })).text();
    expect(dead).toContain('<td class="n" data-part="attempts">2 attempts</td>');

    // What the page script polls: the same count and rows, and only with a session.
    const status = await fetch(`${service.url}/admin/deliveries/${deliveryId}/status`, {
      headers: { cookie },
    });
    expect(status.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await status.json()).toMatchObject({
      id: deliveryId,
      status: 'dead',
      attempts: 2,
      lastError: expect.stringContaining('company is required'),
      attemptLog: [{ outcome: 'dead' }, { outcome: 'dead' }],
    });
    const anonymous = await fetch(`${service.url}/admin/deliveries/${deliveryId}/status`, {
      redirect: 'manual',
    });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/admin/login');
  });

  it("corrects a field through the event page's dialog: CSRF, refusal by field path, then recorded and retried", async () => {
    const service = await start();
    const event = leadEvent({ contact: { email: 'dana@acme', name: 'Dana Reyes' } });
    const body = JSON.stringify(event);
    const id = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );
    await service.store.db
      .updateTable('deliveries')
      .set({ status: 'dead', last_error: 'email dana@acme is invalid' })
      .where('event_id', '=', id)
      .execute();
    const { cookie, csrf } = await login(service);
    const page = async () =>
      (await fetch(`${service.url}/admin/events/${id}`, { headers: { cookie } })).text();
    const correct = (fields: Record<string, string>) =>
      fetch(`${service.url}/admin/events/${id}/correct`, {
        ...form(fields),
        headers: { ...form({}).headers, cookie },
      });

    const before = await page();
    expect(before).toContain(`href="/admin/events/${id}?correct=1#correct" data-opens="correct"`);
    expect(before).toContain('name="set.contact.email" value="dana@acme"');
    expect(before).toMatch(/<dialog id="correct" aria-labelledby/); // closed until asked for

    expect((await correct({ 'set.contact.email': 'dana@acme.example', by: 'Sam' })).status).toBe(403);
    const invalid = await correct({ csrf, 'set.contact.email': 'dana at acme', by: 'Sam' });
    expect(invalid.status).toBe(422);
    const refused = await invalid.text();
    expect(refused).toContain('<dialog id="correct" open data-show');
    expect(refused).toContain('<li><code>contact.email</code>: is not an email address</li>');
    expect(refused).toContain('name="set.contact.email" value="dana at acme"');
    const nameless = await correct({ csrf, 'set.contact.email': 'dana@acme.example', by: ' ' });
    expect(nameless.status).toBe(400);
    expect(await nameless.text()).toContain('must name who is correcting');

    const accepted = await correct({
      csrf,
      'set.contact.name': 'Dana Reyes',
      'set.contact.email': 'dana@acme.example',
      'set.contact.phone': '',
      'set.contact.company': 'Acme Corp',
      path: 'lead.score',
      value: '82',
      by: 'Sam (sales ops)',
    });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toMatch(
      new RegExp(
        `^/admin/events/${id}\\?msg=Corrected%20contact\\.email%2C%20contact\\.company%2C%20lead\\.score`,
      ),
    );
    const row = await service.store.db
      .selectFrom('deliveries')
      .select('status')
      .where('event_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('pending');
    const after = await page();
    expect(after).toContain('<h2>Corrections</h2>');
    expect(after).toMatch(
      /<td>Sam \(sales ops\) <span class="muted">\(127\.0\.0\.1\)<\/span><\/td>\s*<td><code>contact\.email<\/code><\/td><td><code>dana@acme<\/code><\/td><td><code>dana@acme\.example<\/code><\/td>/,
    );
    expect(after).toContain(
      '<td><code>lead.score</code></td><td><span class="muted">(absent)</span></td><td><code>82</code></td>',
    );
    expect(after).toContain('Event JSON as it arrived');
    expect(after).toMatch(/data-follow="\d+"/);
    // Nothing is dead now (the retry is queued): a second correction is refused, and the page says why.
    const again = await correct({ csrf, 'set.contact.phone': '+1 415 555 0100', by: 'Sam' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('has no dead delivery; a correction is for retrying one');
  });
});
