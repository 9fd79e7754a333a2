/**
 * The demo (`npm run demo`) in real Chromium: log in through the emulator's form, see the profile,
 * log out (also of the SSO session), and a wrong password. Screenshots go to the OS temp folder.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { DEMO_PASSWORD } from 'express-cern-sso/testing';
import { startDemo, type Demo } from '../../examples/start-demo.js';
import { launchChromium, skipWithoutChromium, type ChromiumHandle } from '../helpers/chromium.js';

const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? tmpdir();

// The tests use different users, so they can share the emulator and run side by side.
describe.skipIf(skipWithoutChromium()).concurrent('the demo in Chromium', () => {
  let demo: Demo | undefined;
  let chromium: ChromiumHandle | undefined;

  beforeAll(async () => {
    // Both at once; whatever started is stopped in afterAll even if the other failed.
    const [started, launched] = await Promise.allSettled([
      startDemo({ port: 0, log: false }),
      launchChromium(),
    ]);
    if (started.status === 'fulfilled') demo = started.value;
    if (launched.status === 'fulfilled') chromium = launched.value;
    for (const result of [launched, started]) if (result.status === 'rejected') throw result.reason;
  });
  afterAll(async () => {
    await Promise.all([chromium?.close(), demo?.close()]);
  });

  /** A fresh browser profile (no cookies) per test. */
  async function withPage(run: (page: Page) => Promise<void>): Promise<void> {
    const context: BrowserContext = await chromium!.browser.newContext({
      viewport: { width: 1100, height: 720 },
    });
    context.setDefaultTimeout(5_000);
    try {
      await run(await context.newPage());
    } finally {
      await context.close();
    }
  }

  const loginForm = (page: Page) => page.locator('form#kc-form-login');

  it('logs in through the emulator, shows the profile, and logs out of the app and the SSO', async () => {
    const { url, emulator } = demo!;
    await withPage(async (page) => {
      await page.goto(`${url}/`);
      expect(await page.locator('main h1').innerText()).toBe('express-cern-sso demo');
      await page.locator('main').getByRole('link', { name: 'Log in with CERN' }).click();

      // The emulator's login form, on the emulator's origin.
      await loginForm(page).waitFor();
      expect(page.url().startsWith(`${emulator.issuer}/`)).toBe(true);
      await page.screenshot({ path: join(SCREENSHOTS, 'cern-sso-emulator-login.png') });
      await page.fill('input[name="username"]', 'jdoe');
      await page.fill('input[name="password"]', DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign In' }).click();

      // Back on the app, on the page the login button asked for.
      await page.waitForURL(`${url}/profile`);
      const main = page.locator('main');
      expect(await main.locator('h1').innerText()).toBe('John Doe');
      const field = (label: string) => main.locator(`dt:text-is("${label}") + dd`).innerText();
      expect(await field('Name')).toBe('John Doe');
      expect(await field('Login')).toBe('jdoe');
      expect(await field('Email')).toBe('john.doe@cern.ch');
      expect(await field('Person ID')).toBe('123456');
      expect(await field('Roles')).toBe('user');
      expect(await page.locator('header .who').innerText()).toBe('John Doe');
      expect(emulator.sessions('jdoe')).toHaveLength(1);
      await page.screenshot({ path: join(SCREENSHOTS, 'cern-sso-demo-profile.png'), fullPage: true });

      // Log out from the header: through the emulator's end-session endpoint and back home.
      await page.locator('header').getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${url}/`);
      expect(await page.locator('main').getByRole('link', { name: 'Log in with CERN' }).isVisible()).toBe(
        true,
      );
      expect(await page.locator('header .who').count()).toBe(0);
      expect(emulator.sessions('jdoe')).toHaveLength(0);

      // No app session and no SSO session any more: the login form again, not a silent login.
      await page.goto(`${url}/profile`);
      await loginForm(page).waitFor();
      expect(page.url().startsWith(`${emulator.issuer}/`)).toBe(true);
    });
  });

  it('a wrong password shows an error on the login form', async () => {
    const { url, emulator } = demo!;
    await withPage(async (page) => {
      await page.goto(`${url}/profile`);
      await loginForm(page).waitFor();
      await page.fill('input[name="username"]', 'mmartin');
      await page.fill('input[name="password"]', 'not-the-password');
      await page.getByRole('button', { name: 'Sign In' }).click();
      const error = await page.getByRole('alert').innerText();
      expect(error).toMatch(/invalid|wrong|incorrect/i);
      expect(page.url().startsWith(`${emulator.issuer}/`)).toBe(true);
      expect(await page.locator('input[name="username"]').inputValue()).toBe('mmartin');
      await page.screenshot({ path: join(SCREENSHOTS, 'cern-sso-emulator-login-error.png') });
      expect(emulator.sessions('mmartin')).toHaveLength(0);
    });
  });
  it('the admin page is guarded by requireGroup and the directory searches people', async () => {
    const { url } = demo!;
    await withPage(async (page) => {
      await page.goto(`${url}/admin`);
      await loginForm(page).waitFor();
      await page.fill('input[name="username"]', 'admin1');
      await page.fill('input[name="password"]', DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign In' }).click();
      await page.waitForURL(`${url}/admin`);
      expect(await page.locator('main h1').innerText()).toBe('Admins only');
      expect(await page.locator('main .tag', { hasText: 'it-dep-admins' }).count()).toBe(1);

      await page.goto(`${url}/directory`);
      await page.fill('input#q', 'doe');
      await page.locator('#results li', { hasText: 'jdoe' }).waitFor();
      expect(await page.locator('#results li').first().innerText()).toMatch(/Doe/);
      await page.screenshot({ path: join(SCREENSHOTS, 'cern-sso-demo-directory.png'), fullPage: true });
    });
  });

  it('a signed-in user outside the e-group gets a clear 403 page', async () => {
    const { url } = demo!;
    await withPage(async (page) => {
      await page.goto(`${url}/login?returnTo=%2Fprofile`);
      await loginForm(page).waitFor();
      await page.fill('input[name="username"]', 'lnguyen');
      await page.fill('input[name="password"]', DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign In' }).click();
      await page.waitForURL(`${url}/profile`);
      const response = await page.goto(`${url}/admin`);
      expect(response?.status()).toBe(403);
      expect(await page.locator('h1').innerText()).toBe('Access denied');
      expect(await page.locator('main').innerText()).toMatch(/it-dep-admins/);
    });
  });
});
