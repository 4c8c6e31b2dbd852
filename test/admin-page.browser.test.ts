import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';
import { adminServiceWithWebhook } from './helpers/admin-fixture.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

/*
 * The admin page in a real headless Chromium (Debian's `chromium` package,
 * driven by playwright-core). CI installs Chromium (see .ci/run), so there
 * this test always runs; elsewhere it is skipped, with a message, only when
 * no Chromium is installed.
 *
 * It takes the screenshots docs/admin.md shows; with LEADRELAY_WRITE_DOCS=1
 * they are written to docs/images/, otherwise to a temporary folder (so a
 * test run leaves the working tree as it was).
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
/** Waits in the page are for conditions; this only ends one that is stuck, on a loaded machine. */
const WAIT_MS = 120_000;

/** Chromium with a fresh, throw-away profile (user data dir). */
async function launch(): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'leadrelay-chromium-'));
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 820 },
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

function screenshotsDir(): string {
  if (process.env.LEADRELAY_WRITE_DOCS) {
    const dir = fileURLToPath(new URL('../docs/images/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-screenshots-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function screenshot(page: Page, dir: string, name: string, fullPage = false): Promise<void> {
  const path = join(dir, name);
  await page.screenshot({ path, fullPage, animations: 'disabled', caret: 'hide' });
  const size = statSync(path).size;
  expect(size, name).toBeGreaterThan(5_000);
  expect(size, name).toBeLessThan(1_500_000);
}

/** Marks the page, so a later check can tell it was updated in place and never reloaded. */
async function markLoaded(page: Page): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
  });
}

async function stillSamePage(page: Page): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded === true);
}

async function logIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/admin/login`);
  await page.fill('input[name=token]', TOKEN);
  await page.click('button[type=submit]');
  expect(new URL(page.url()).pathname).toBe('/admin/');
}

describe.runIf(runBrowser)('admin page in headless Chromium', () => {
  it('logs in with the token, shows a dead delivery, retries it and follows it to delivered without a reload', async () => {
    const { sandbox, service } = await adminServiceWithWebhook({ secret, token: TOKEN, cleanups });

    // A dead delivery: the destination refuses the event for good (422). The
    // contact's name and the transcript are markup, which the page must show as text.
    sandbox.failNext(1, { status: 422, body: '{"message":"field company is required"}' });
    const event = leadEvent({
      contact: { email: 'dana@acme.example', name: '<img src=x onerror=alert(1)>Dana' },
      conversation: {
        id: 'conv_1',
        url: 'javascript:alert(4)',
        messages: [
          { role: 'user', author: '<img src=y onerror=alert(2)>', text: '<script>alert(3)</script>' },
          { role: 'bot', text: '</li></ol><b>bold?</b>' },
        ],
      },
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

    // The dead delivery, under its lead's name, with its error and a Retry button.
    await page.click('a[href="/admin/dead"]');
    const row = page.locator('tr', { hasText: eventId });
    await row.waitFor();
    expect(await row.textContent()).toContain('field company is required');
    expect(await row.locator('a.lead-name').textContent()).toBe('<img src=x onerror=alert(1)>Dana');

    await row.locator('button', { hasText: 'Retry' }).click();
    expect(await page.textContent('.msg')).toMatch(/queued again/);
    // The retried delivery stays on the page and is followed there until it is delivered.
    await markLoaded(page);
    await page
      .locator(`tr:has-text("${eventId}") [data-part="outcome"]`, { hasText: 'Delivered.' })
      .waitFor({ timeout: WAIT_MS });
    expect(await stillSamePage(page)).toBe(true);
    expect(await page.locator(`tr:has-text("${eventId}") [data-part="attempts"]`).textContent()).toBe(
      '2 attempts',
    );
    expect(await page.locator(`tr:has-text("${eventId}") button`, { hasText: 'Retry' }).isVisible()).toBe(
      false,
    );

    // The event's timeline: both attempts, the transcript as text, nothing run as markup.
    await page.click(`tr:has-text("${eventId}") a.lead-name`);
    expect(await page.textContent('.delivery-status')).toBe('delivered');
    const timeline = await page.textContent('main');
    expect(timeline).toMatch(/dead\s*422/);
    expect(timeline).toMatch(/delivered\s*200/);
    expect(await page.textContent('[data-part="attempts"]')).toBe('2 attempts');
    expect(await page.locator('tbody[data-part="attempt-rows"] tr').count()).toBe(2);
    expect(await page.textContent('h2.lead-name')).toBe('<img src=x onerror=alert(1)>Dana');
    const messages = page.locator('ol.transcript li');
    expect(await messages.count()).toBe(2);
    expect(await messages.nth(0).locator('.m-author').textContent()).toBe('<img src=y onerror=alert(2)>');
    expect(await messages.nth(0).locator('.m-text').textContent()).toBe('<script>alert(3)</script>');
    expect(await messages.nth(1).locator('.m-text').textContent()).toBe('</li></ol><b>bold?</b>');
    expect(await page.locator('main img, main b, a[href^="javascript:"]').count()).toBe(0);
    expect(dialogs).toEqual([]);

    // Logging out ends the session on the server too.
    await page.click('header button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.goto(`${service.url}/admin/`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
  });

  it('sales ops: a refused lead shows by name with its conversation; a failed Retry shows without a reload; correct the email, retry, open the CRM record', async () => {
    const hubspot = await HubSpotSandbox.start();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['hubspot'] }],
        delivery: { poll_interval: '50ms' },
      },
      {
        env: { LEADRELAY_ADMIN_TOKEN: TOKEN },
        worker: true,
        connectors: {
          hubspot: {
            type: 'hubspot',
            access_token: 'pat-sandbox',
            base_url: hubspot.url,
            // Record links point at the sandbox, so opening one stays on this machine.
            app_url: `${hubspot.url}/app`,
          },
        },
      },
    );
    cleanups.push(
      () => hubspot.close(),
      () => service.close(),
    );
    const shots = screenshotsDir();

    // The bot took the email down wrong ("acmecorp", no domain ending): HubSpot refuses it for good.
    const event = leadEvent({
      contact: {
        name: 'Dana Reyes',
        email: 'dana.reyes@acmecorp',
        phone: '+1 415 555 0100',
        company: 'Acme Corp',
        job_title: 'COO',
      },
      lead: { score: 82, use_case: 'intake automation', budget: '10-25k', timeline: 'Q1' },
      conversation: {
        id: 'conv_8842',
        channel: 'web',
        url: 'https://chat.example/c/8842',
        messages: [
          { role: 'bot', text: 'Hi! What brings you here today?', at: '2026-11-25T10:01:00Z' },
          {
            role: 'user',
            author: 'Dana',
            text: 'We need to automate intake for our 40 clinics.',
            at: '2026-11-25T10:01:20Z',
          },
          {
            role: 'bot',
            text: 'Happy to help. What email can our team reach you at?',
            at: '2026-11-25T10:01:31Z',
          },
          { role: 'user', author: 'Dana', text: 'dana.reyes@acmecorp, thanks', at: '2026-11-25T10:01:52Z' },
        ],
      },
    });
    const body = JSON.stringify(event);
    const eventId = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );
    const deliveryStatus = async () =>
      (
        await service.store.db
          .selectFrom('deliveries')
          .select('status')
          .where('event_id', '=', eventId)
          .executeTakeFirstOrThrow()
      ).status;
    await until(async () => (await deliveryStatus()) === 'dead', 'refused by HubSpot');

    const context = await launch();
    const page = context.pages()[0] ?? (await context.newPage());
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await logIn(page, service.url);

    // The dead list names the lead and the company.
    await page.goto(`${service.url}/admin/dead`);
    const row = page.locator('tr', { hasText: eventId });
    await row.waitFor();
    expect(await row.locator('a.lead-name').textContent()).toBe('Dana Reyes');
    expect(await row.textContent()).toContain('dana.reyes@acmecorp · Acme Corp');
    expect(await row.textContent()).toMatch(/dana\.reyes@acmecorp is not a valid email address/);
    await screenshot(page, shots, 'admin-dead-list.png');

    // Retry as is: it fails again, and the page says so by itself, with the new error.
    await row.locator('button', { hasText: 'Retry' }).click();
    await markLoaded(page);
    const outcome = page.locator(`tr:has-text("${eventId}") [data-part="outcome"]`);
    await outcome
      .filter({ hasText: /Dead again: .*not a valid email address/ })
      .waitFor({ timeout: WAIT_MS });
    expect(await stillSamePage(page)).toBe(true);
    expect(await page.textContent('main')).not.toContain('No dead deliveries');
    expect(await page.locator(`tr:has-text("${eventId}") [data-part="attempts"]`).textContent()).toBe(
      '2 attempts',
    );
    await expect.poll(() => row.locator('button', { hasText: 'Retry' }).isVisible()).toBe(true);

    // The event page: who, what they said, and both attempts.
    await page.click(`tr:has-text("${eventId}") a.lead-name`);
    expect(await page.textContent('h2.lead-name')).toBe('Dana Reyes');
    expect(await page.textContent('.lead-company')).toBe('COO at Acme Corp');
    expect(await page.locator('ol.transcript li').count()).toBe(4);
    expect(await page.locator('ol.transcript li.m-user').nth(0).textContent()).toContain(
      'Dana 2026-11-25 10:01:20ZWe need to automate intake for our 40 clinics.',
    );
    expect(await page.getAttribute('a:has-text("open in the chat platform")', 'href')).toBe(
      'https://chat.example/c/8842',
    );
    expect(await page.textContent('[data-part="attempts"]')).toBe('2 attempts');
    expect(await page.locator('tbody[data-part="attempt-rows"] tr').count()).toBe(2);

    // Correct the email: the dialog opens in place; a bad value is refused, naming the field.
    await page.click('a[data-opens="correct"]');
    const dialog = page.locator('dialog#correct');
    await dialog.waitFor({ state: 'visible' });
    expect(await page.inputValue('input[name="set.contact.email"]')).toBe('dana.reyes@acmecorp');
    await page.fill('input[name="set.contact.email"]', 'dana.reyes at acme');
    await page.fill('input[name="by"]', 'Sam (sales ops)');
    await dialog.locator('button', { hasText: 'Correct and retry' }).click();
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.locator('.correction-errors').textContent()).toBe(
      'contact.email: is not an email address',
    );
    expect(await deliveryStatus()).toBe('dead');

    await page.fill('input[name="set.contact.email"]', 'dana.reyes@acme.example');
    await screenshot(page, shots, 'admin-correct-dialog.png');
    await dialog.locator('button', { hasText: 'Correct and retry' }).click();

    // Recorded, retried with the corrected event, and followed to delivered without a reload.
    expect(await page.textContent('.msg')).toContain('Corrected contact.email; 1 dead delivery queued again');
    await markLoaded(page);
    await page.locator('.delivery-status', { hasText: 'delivered' }).waitFor({ timeout: WAIT_MS });
    expect(await stillSamePage(page)).toBe(true);
    expect(await page.textContent('[data-part="attempts"]')).toBe('3 attempts');
    expect(await page.locator('tbody[data-part="attempt-rows"] tr').count()).toBe(3);
    expect(hubspot.state.findByEmail('dana.reyes@acme.example')?.properties.company).toBe('Acme Corp');
    expect(hubspot.state.findByEmail('dana.reyes@acmecorp')).toBeUndefined();
    const corrections = page.locator('table.corrections tbody tr');
    expect(await corrections.count()).toBe(1);
    expect(await corrections.textContent()).toMatch(
      /Sam \(sales ops\) \(127\.0\.0\.1\)\s*contact\.emaildana\.reyes@acmecorpdana\.reyes@acme\.example/,
    );

    // The record link is a real link; it opens the contact in (the sandbox's) HubSpot.
    const link = page.locator('a.record-link', { hasText: 'Open in HubSpot' });
    await link.waitFor({ timeout: WAIT_MS });
    const href = await link.getAttribute('href');
    expect(href).toMatch(new RegExp(`^${hubspot.url}/app/contacts/62515001/record/0-1/\\d+$`));
    await screenshot(page, shots, 'admin-event.png', true);
    const [opened] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await opened.waitForURL(href!, { timeout: WAIT_MS });
    await opened.close();
    expect(dialogs).toEqual([]);
  });
});
