/**
 * Login CSRF by cookie tossing, through real HTTP (app + emulator). A sibling site
 * (`evil.web.cern.ch` next to `myapp.web.cern.ch`) can set a cookie with `Domain=web.cern.ch;
 * Path=/oidc/callback`: the attacker starts a login on the app himself, signs in as himself, keeps
 * the code unused, tosses his genuine sealed login cookie into the victim's browser and sends the
 * victim to his callback URL. The browser-binding cookie (`__Host-` on https, which no sibling can
 * set) makes that callback a 400: the victim is not signed in as the attacker.
 */
import session from 'express-session';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { BINDING_COOKIE, bindingCookieName } from '../../src/auth/browser-binding.js';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps, sealedName } from '../helpers/login-steps.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };
const HOST_BINDING = bindingCookieName(true);
/** The external URL of the https app (a TLS-terminating proxy in front of it). */
const TLS_BASE = 'https://binding-app.example.test';

let emulator: CernSsoEmulator;
let app: TestApp;
let tls: TestApp;
const store = new session.MemoryStore();

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { clientId: 'binding-app', sessionStore: store });
  emulator.registerClient({
    clientId: 'binding-tls-app',
    clientSecret: 'binding-tls-app-secret',
    redirectUris: [`${TLS_BASE}/oidc/callback`],
  });
  tls = await startTestApp(emulator, {
    clientId: 'binding-tls-app-local',
    sso: { baseUrl: TLS_BASE, clientId: 'binding-tls-app', clientSecret: 'binding-tls-app-secret' },
  });
});
afterAll(async () => {
  await tls.close();
  await app.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.setAutoLogin(false);
});

function sessionCount(): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((error: unknown, length?: number) => {
      if (error) reject(error instanceof Error ? error : new Error('store failed'));
      else resolve(length ?? 0);
    });
  });
}

const { startLogin, authorizeAs, whoAmI } = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

/** The app's cookies in `browser` (app and https app both run on `localhost`). */
const appJar = (browser: TestBrowser): Map<string, string> => {
  const jar = browser.cookies.get('localhost') ?? new Map<string, string>();
  browser.cookies.set('localhost', jar);
  return jar;
};

/** Set-Cookie headers of the binding cookie (either name) that `browser` received. */
const bindingSetCookies = (browser: TestBrowser): string[] =>
  browser.setCookieHeaders
    .map(({ header }) => header)
    .filter((header) => header.startsWith(`${BINDING_COOKIE}=`) || header.startsWith(`${HOST_BINDING}=`));

async function expectStartAgain(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  const body = (await response.json()) as { code: string; error_description: string };
  expect(body.code).toBe('ERR_LOGIN_STATE');
  expect(body.error_description).toMatch(/Please start the sign-in again/);
}

/** The attacker's part: his own login on the app, his sealed cookie, his unused callback URL. */
async function attackerPrepares(base = app.baseUrl) {
  const attacker = new TestBrowser();
  const authorize = await startLogin(attacker, base);
  const name = sealedName(authorize);
  const sealed = appJar(attacker).get(name) ?? '';
  expect(sealed).not.toBe('');
  let callback = await authorizeAs('admin1', authorize);
  // On the https app, what the proxy does: forward the callback to the app over http.
  if (base !== app.baseUrl) callback = new URL(callback.href.replace(TLS_BASE, base));
  return { attacker, name, sealed, callback };
}

describe('login CSRF by cookie tossing: refused by the browser-binding cookie', () => {
  it("the attacker's genuine login cookie and callback in the victim's browser, which has its own binding: 400, victim not signed in", async () => {
    const { attacker, name, sealed, callback } = await attackerPrepares();
    const victim = new TestBrowser();
    await startLogin(victim); // the victim's own /login earlier: his own binding cookie
    const victimBinding = appJar(victim).get(BINDING_COOKIE);
    expect(victimBinding).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(victimBinding).not.toBe(appJar(attacker).get(BINDING_COOKIE));

    appJar(victim).set(name, sealed); // tossed from the sibling site
    const before = await sessionCount();
    const warnings = app.logger.lines('warn').length;
    await expectStartAgain(await victim.request(callback.href, { headers: JSON_ACCEPT }));
    expect(await whoAmI(victim)).toBeUndefined();
    expect(await sessionCount()).toBe(before);
    // The log says why, the person sees the usual "start again".
    const logged = app.logger.lines('warn').slice(warnings);
    expect(logged.join('\n')).toMatch(/browser-binding cookie is missing or belongs to another browser/);
    // The callback leaves the binding cookie alone (other tabs may be pending).
    expect(appJar(victim).get(BINDING_COOKIE)).toBe(victimBinding);

    // Control: the code is still unused and the sealed cookie genuine; only the binding was
    // missing: the attacker's own browser completes the very same callback.
    expect((await attacker.request(callback.href)).status).toBe(302);
    expect(await whoAmI(attacker)).toBe('admin1');
  });

  it('the same in a browser without any binding cookie: 400, nobody signed in', async () => {
    const { name, sealed, callback } = await attackerPrepares();
    const victim = new TestBrowser();
    appJar(victim).set(name, sealed);
    const before = await sessionCount();
    await expectStartAgain(await victim.request(callback.href, { headers: JSON_ACCEPT }));
    const page = await new TestBrowser().request(callback.href);
    expect(page.status).toBe(400);
    expect(await page.text()).toMatch(/Please start the sign-in again/);
    expect(await whoAmI(victim)).toBeUndefined();
    expect(await sessionCount()).toBe(before);
  });

  it("on an https app: the attacker's binding value under the name a sibling can set (cernsso_browser) counts for nothing", async () => {
    const { attacker, name, sealed, callback } = await attackerPrepares(tls.baseUrl);
    const attackerBinding = appJar(attacker).get(HOST_BINDING);
    expect(attackerBinding).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(appJar(attacker).has(BINDING_COOKIE)).toBe(false);

    // A victim with his own __Host- binding, and one without: both get the tossed cookies.
    const withOwn = new TestBrowser();
    await startLogin(withOwn, tls.baseUrl);
    const without = new TestBrowser();
    for (const victim of [withOwn, without]) {
      appJar(victim).set(name, sealed);
      appJar(victim).set(BINDING_COOKIE, attackerBinding ?? '');
      await expectStartAgain(await victim.request(callback.href, { headers: JSON_ACCEPT }));
      expect(await whoAmI(victim, tls.baseUrl)).toBeUndefined();
    }

    // Control: under the __Host- name (which only the app's own host can set) it would pass.
    expect((await attacker.request(callback.href)).status).toBe(302);
    expect(await whoAmI(attacker, tls.baseUrl)).toBe('admin1');
  });
});

describe('the browser-binding cookie', () => {
  it('on https: __Host-cernsso_browser, Path=/, Secure, HttpOnly, SameSite=Lax, no Domain, a session cookie', async () => {
    const browser = new TestBrowser();
    await startLogin(browser, tls.baseUrl);
    const [header, ...more] = bindingSetCookies(browser);
    expect(more).toEqual([]);
    expect(header).toMatch(
      /^__Host-cernsso_browser=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
    );
  });

  it('on http (loopback development): cernsso_browser, without Secure, otherwise the same', async () => {
    const browser = new TestBrowser();
    await startLogin(browser);
    const [header, ...more] = bindingSetCookies(browser);
    expect(more).toEqual([]);
    expect(header).toMatch(/^cernsso_browser=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  it('is set once, then reused by later and parallel logins, which all complete; the callbacks keep it', async () => {
    const browser = new TestBrowser();
    const first = await startLogin(browser, app.baseUrl, '/first');
    const binding = appJar(browser).get(BINDING_COOKIE);
    const [second, third] = await Promise.all([
      startLogin(browser, app.baseUrl, '/second'),
      startLogin(browser, app.baseUrl, '/third'),
    ]);
    const fourth = await startLogin(browser, app.baseUrl, '/fourth');
    expect(bindingSetCookies(browser)).toHaveLength(1);
    expect(appJar(browser).get(BINDING_COOKIE)).toBe(binding);

    for (const [authorize, returnTo] of [
      [third, '/third'],
      [first, '/first'],
      [fourth, '/fourth'],
      [second, '/second'],
    ] as const) {
      const done = await browser.request((await authorizeAs('jdoe', authorize)).href);
      expect(done.status).toBe(302);
      expect(done.headers.get('location')).toBe(returnTo);
    }
    expect(bindingSetCookies(browser)).toHaveLength(1);
    expect(appJar(browser).get(BINDING_COOKIE)).toBe(binding);
    expect(await whoAmI(browser)).toBe('jdoe');
  });

  it('a malformed binding cookie is replaced at /login, and that login completes', async () => {
    const browser = new TestBrowser();
    appJar(browser).set(BINDING_COOKIE, 'not-a-binding');
    const authorize = await startLogin(browser);
    expect(appJar(browser).get(BINDING_COOKIE)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((await browser.request((await authorizeAs('jdoe', authorize)).href)).status).toBe(302);
    expect(await whoAmI(browser)).toBe('jdoe');
  });

  it('two first logins at the same moment in a browser without one: the second binding replaces the first, so one tab starts again', async () => {
    // The one race left: both requests carry no binding, each gets a new one, the browser keeps
    // the last. The tab bound to the other one is asked to start again, then completes.
    const browser = new TestBrowser();
    const tabs = await Promise.all([startLogin(browser), startLogin(browser)]);
    expect(bindingSetCookies(browser)).toHaveLength(2);
    const statuses: number[] = [];
    for (const tab of tabs) {
      const response = await browser.request((await authorizeAs('jdoe', tab)).href, { headers: JSON_ACCEPT });
      statuses.push(response.status);
    }
    expect(statuses.sort()).toEqual([302, 400]);
    const again = await startLogin(browser);
    expect(bindingSetCookies(browser)).toHaveLength(2);
    expect((await browser.request((await authorizeAs('jdoe', again)).href)).status).toBe(302);
  });
});
