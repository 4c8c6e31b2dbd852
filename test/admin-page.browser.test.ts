import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { WebhookSandbox } from '../sandboxes/webhook/index.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

/*
 * The admin page in a real headless Chromium (Debian's `chromium` package,
 * driven by playwright-core). CI installs Chromium (see .ci/run), so there
 * this test always runs; elsewhere it is skipped, with a message, only when
 * no Chromium is installed.
 */
const CHROMIUM = process.env.LEADRELAY_CHROMIUM ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const runBrowser = available || Boolean(process.env.CI);
if (!runBrowser) {
  console.warn(
    `admin page browser test skipped: no Chromium at ${CHROMIUM} (install Debian's "chromium" package, or set LEADRELAY_CHROMIUM); it never skips when CI is set`,
  );
}

const secret = newSecret();
const TOKEN = 'browser-test-admin-token-0123456789';
const cleanups = cleanupsAfter('each');

/** Chromium with a fresh, throw-away profile (user data dir). */
async function launch(): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'leadrelay-chromium-'));
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  cleanups.push(() => context.close());
  return context;
}

describe.runIf(runBrowser)('admin page in headless Chromium', () => {
  it('logs in with the token, shows a dead delivery, retries it and shows it delivered', async () => {
    const sandbox = await WebhookSandbox.start();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: '*', to: ['hook'] }],
        delivery: { poll_interval: '50ms' },
      },
      {
        env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
        worker: true,
        connectors: { hook: { type: 'webhook', url: `${sandbox.url}/in` } },
      },
    );
    cleanups.push(
      () => sandbox.close(),
      () => service.close(),
    );

    // A dead delivery: the destination refuses the event for good (422). The
    // contact's name is markup, which the page must show as text.
    sandbox.failNext(1, { status: 422, body: '{"message":"field company is required"}' });
    const event = leadEvent({
      contact: { email: 'dana@acme.example', name: '<img src=x onerror=alert(1)>Dana' },
    });
    const body = JSON.stringify(event);
    const posted = await service.post('site', body, officialHeaders(secret, String(event.id), body));
    const eventId = String(posted.json.id);
    await until(async () => {
      const row = await service.store.db
        .selectFrom('deliveries')
        .select('status')
        .where('event_id', '=', eventId)
        .executeTakeFirst();
      return row?.status === 'dead';
    }, 'delivery dead');

    const context = await launch();
    const page = context.pages()[0] ?? (await context.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });

    // Without a session, the page sends the browser to the login form.
    await page.goto(`${service.url}/admin/dead`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');

    // A wrong token is refused; the right one logs in.
    await page.fill('input[name=token]', 'not-the-token');
    await page.click('button[type=submit]');
    expect(await page.textContent('main')).toContain('That is not the admin token.');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.textContent('main')).toContain('hook');

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'leadrelay_admin',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/admin',
    });
    expect(cookies[0]!.value).not.toContain(TOKEN);

    // The dead delivery, with its error and a Retry button.
    await page.click('a[href="/admin/dead"]');
    const row = page.locator('tr', { hasText: eventId });
    await row.waitFor();
    expect(await row.textContent()).toContain('field company is required');

    await row.locator('button', { hasText: 'Retry' }).click();
    expect(await page.textContent('.msg')).toMatch(/queued again/);

    // The event's timeline shows the delivery become delivered, after the dead attempt.
    await page.goto(`${service.url}/admin/events/${eventId}`);
    await until(async () => {
      await page.reload();
      return (await page.textContent('.delivery-status')) === 'delivered';
    }, 'shown delivered');
    const timeline = await page.textContent('main');
    expect(timeline).toMatch(/dead\s*422/);
    expect(timeline).toMatch(/delivered\s*200/);
    // Event data is shown as text, never run as markup.
    expect(timeline).toContain('<img src=x onerror=alert(1)>Dana');
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toEqual([]);

    // Logging out ends the session on the server too.
    await page.click('header button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.goto(`${service.url}/admin/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
  });
});
