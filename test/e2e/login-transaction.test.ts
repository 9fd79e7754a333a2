/**
 * The login transaction through real HTTP (app + emulator): the pending login lives in a sealed
 * cookie per tab, nothing is stored on the server before a successful callback, and a callback
 * that does not belong to this browser's own login never signs anyone in.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { cernSso, type CernSso } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { BINDING_COOKIE, bindingDigest } from '../../src/auth/browser-binding.js';
import { loginCookieKeys } from '../../src/auth/login-key.js';
import { MARKER_PREFIX, SEALED_PREFIX } from '../../src/auth/login-cookies.js';
import { sealPendingLogin } from '../../src/auth/login-seal.js';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps, sealedName } from '../helpers/login-steps.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };
const FIFTEEN_MINUTES = 15 * 60_000;

let emulator: CernSsoEmulator;
let app: TestApp;
let store: session.MemoryStore;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  store = new session.MemoryStore();
  app = await startTestApp(emulator, { clientId: 'tx-app', sessionStore: store });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.setAutoLogin(false);
});
afterEach(() => {
  vi.useRealTimers();
});

function sessionCount(): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((error: unknown, length?: number) => {
      if (error) reject(error instanceof Error ? error : new Error('store failed'));
      else resolve(length ?? 0);
    });
  });
}

function sessionIds(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    store.all((error: unknown, all?: Record<string, unknown> | null) => {
      if (error) reject(error instanceof Error ? error : new Error('store failed'));
      else resolve(Object.keys(all ?? {}));
    });
  });
}

const { startLogin, authorizeAs, whoAmI } = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

const appJar = (browser: TestBrowser): Map<string, string> =>
  browser.cookies.get('localhost') ?? new Map<string, string>();

async function expectLoginState(response: Response): Promise<string> {
  expect(response.status).toBe(400);
  const body = (await response.json()) as { code: string; error_description: string };
  expect(body.code).toBe('ERR_LOGIN_STATE');
  return body.error_description;
}

describe('no server-side state before a successful callback', () => {
  it('GET /login stores no session and sets no session cookie', async () => {
    const before = await sessionCount();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${app.baseUrl}/login?returnTo=/x${i}`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      const cookies = response.headers.getSetCookie();
      expect(cookies.some((header) => header.startsWith('app.sid='))).toBe(false);
      expect(cookies.some((header) => header.startsWith(SEALED_PREFIX))).toBe(true);
    }
    expect(await sessionCount()).toBe(before);
  });

  it('the session is created at the callback, with an id that differs from any before', async () => {
    const browser = new TestBrowser();
    const first = await authorizeAs('jdoe', await startLogin(browser));
    const idsBefore = new Set(await sessionIds());
    expect((await browser.request(first.href)).status).toBe(302);
    const firstSid = browser.cookie('localhost', 'app.sid');
    expect(firstSid).toBeDefined();
    expect(await whoAmI(browser)).toBe('jdoe');
    const created = (await sessionIds()).filter((id) => !idsBefore.has(id));
    expect(created.length).toBeGreaterThanOrEqual(1);

    // Signing in again (a signed-in browser): /login leaves the session alone, the callback
    // gives it a new id and the old one is gone.
    const authorize = await startLogin(browser);
    expect(browser.cookie('localhost', 'app.sid')).toBe(firstSid);
    const second = await authorizeAs('jdoe', authorize);
    expect((await browser.request(second.href)).status).toBe(302);
    const secondSid = browser.cookie('localhost', 'app.sid');
    expect(secondSid).toBeDefined();
    expect(secondSid).not.toBe(firstSid);
    const old = new TestBrowser();
    old.cookies.set('localhost', new Map([['app.sid', firstSid ?? '']]));
    expect(await whoAmI(old)).toBeUndefined();
  });

  it('the login cookies: HttpOnly, SameSite=Lax, scoped to their routes, lifetime = loginTimeoutMs', async () => {
    const response = await fetch(`${app.baseUrl}/login`, { redirect: 'manual' });
    const cookies = response.headers.getSetCookie();
    const sealed = cookies.find((header) => header.startsWith(SEALED_PREFIX));
    const marker = cookies.find((header) => header.startsWith(MARKER_PREFIX));
    expect(sealed).toMatch(/; Path=\/oidc\/callback;/);
    expect(marker).toMatch(/; Path=\/login;/);
    for (const header of [sealed, marker]) {
      expect(header).toMatch(/; HttpOnly/);
      expect(header).toMatch(/; SameSite=Lax/);
      expect(header).toMatch(/; Max-Age=900;/);
      expect(header).not.toMatch(/; Secure/); // http://localhost
    }
    expect(response.headers.get('cache-control')).toBe('no-store');
  });
});

describe('a callback that is not this browser’s own login signs nobody in', () => {
  it.each(['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'])(
    'state=%s: 400 ERR_LOGIN_STATE, nobody signed in, nothing stored',
    async (state) => {
      const browser = new TestBrowser();
      await startLogin(browser); // the victim has a login in progress
      const before = await sessionCount();
      const url = new URL(`${app.baseUrl}/oidc/callback`);
      url.search = new URLSearchParams({ state, code: 'attacker-code', iss: emulator.issuer }).toString();
      await expectLoginState(await browser.request(url.href, { headers: JSON_ACCEPT }));
      expect(await whoAmI(browser)).toBeUndefined();
      expect(await sessionCount()).toBe(before);
    },
  );

  it("an attacker's own valid callback URL opened in the victim's browser: 400, victim not signed in", async () => {
    const attacker = new TestBrowser();
    const attackerCallback = await authorizeAs('admin1', await startLogin(attacker));
    const victim = new TestBrowser();
    await startLogin(victim); // with or without a login of their own in progress
    const message = await expectLoginState(
      await victim.request(attackerCallback.href, { headers: JSON_ACCEPT }),
    );
    expect(message).toMatch(/start the sign-in again/);
    expect(message).toMatch(/cookies enabled/);
    expect(await whoAmI(victim)).toBeUndefined();
    // As a page for browsers: a clear 400, never a 500.
    const page = await new TestBrowser().request(attackerCallback.href);
    expect(page.status).toBe(400);
    expect(await page.text()).toMatch(/Please start the sign-in again/);
  });

  it('a tampered login cookie: 400, and the cookies of that login are cleared', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    const jar = appJar(browser);
    const sealed = jar.get(sealedName(authorize)) ?? '';
    const parts = sealed.split('.');
    const ciphertext = parts[3] ?? '';
    parts[3] = (ciphertext.startsWith('A') ? 'B' : 'A') + ciphertext.slice(1);
    jar.set(sealedName(authorize), parts.join('.'));
    const response = await browser.request(callback.href, { headers: JSON_ACCEPT });
    const cleared = response.headers.getSetCookie().filter((header) => header.includes('Max-Age=0'));
    expect(cleared.map((header) => header.split('=')[0]).sort()).toEqual(
      [sealedName(authorize), sealedName(authorize).replace(SEALED_PREFIX, MARKER_PREFIX)].sort(),
    );
    await expectLoginState(response);
    expect(await whoAmI(browser)).toBeUndefined();
  });

  it('a login cookie sealed with another key: 400', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    const [foreignKey] = loginCookieKeys({ clientSecret: 'another-application-secret' });
    const forged = await sealPendingLogin(
      {
        state: authorize.searchParams.get('state') ?? '',
        nonce: authorize.searchParams.get('nonce') ?? '',
        codeVerifier: 'v'.repeat(43),
        returnTo: '/',
        createdAt: Date.now(),
        binding: bindingDigest(appJar(browser).get(BINDING_COOKIE) ?? ''),
      },
      foreignKey,
      FIFTEEN_MINUTES,
    );
    appJar(browser).set(sealedName(authorize), forged);
    await expectLoginState(await browser.request(callback.href, { headers: JSON_ACCEPT }));
    expect(await whoAmI(browser)).toBeUndefined();
  });

  it('a login older than loginTimeoutMs: 400 "expired"', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now());
    const browser = new TestBrowser();
    const callback = await authorizeAs('jdoe', await startLogin(browser));
    vi.setSystemTime(Date.now() + FIFTEEN_MINUTES + 1);
    const message = await expectLoginState(await browser.request(callback.href, { headers: JSON_ACCEPT }));
    expect(message).toMatch(/expired/);
    expect(await whoAmI(browser)).toBeUndefined();
  });

  it('a login just inside loginTimeoutMs still completes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now());
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    vi.setSystemTime(Date.now() + FIFTEEN_MINUTES - 1000);
    const callback = await authorizeAs('jdoe', authorize);
    expect((await browser.request(callback.href)).status).toBe(302);
    expect(await whoAmI(browser)).toBe('jdoe');
  });

  it.each(['state', 'code', 'iss', 'error'])(
    'a repeated %s parameter: 400, nobody signed in',
    async (name) => {
      const browser = new TestBrowser();
      const callback = await authorizeAs('jdoe', await startLogin(browser));
      while (callback.searchParams.getAll(name).length < 2) callback.searchParams.append(name, 'other');
      const message = await expectLoginState(await browser.request(callback.href, { headers: JSON_ACCEPT }));
      expect(message).toMatch(/repeats a parameter/);
      expect(await whoAmI(browser)).toBeUndefined();
    },
  );
});

describe('the error parameter of the callback', () => {
  async function errorCallback(error: string, description: string): Promise<Response> {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const url = new URL(`${app.baseUrl}/oidc/callback`);
    url.search = new URLSearchParams({
      error,
      error_description: description,
      state: authorize.searchParams.get('state') ?? '',
      iss: emulator.issuer,
    }).toString();
    return browser.request(url.href);
  }

  it('a known code is shown in our own words; error_description never reaches the page', async () => {
    const response = await errorCallback('login_required', 'Visit https://evil.example to fix <b>this</b>');
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toMatch(/you need to sign in at the login service/);
    expect(page).not.toMatch(/evil\.example|&lt;b&gt;|<b>this/);
  });

  it('an unknown code is "unknown error"; the log gets the description cut and without control characters', async () => {
    const description = `line one\r\n[error] forged log line ${'x'.repeat(500)}`;
    const response = await errorCallback('<script>alert(1)</script>', description);
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toMatch(/refused the sign-in: unknown error/);
    expect(page).not.toMatch(/script|alert|forged/);
    const logged = app.logger.lines('warn').find((line) => line.includes('forged'));
    expect(logged).toBeDefined();
    expect(logged).not.toMatch(/[\r\n]/);
    expect(logged).not.toMatch(/x{201}/);
  });
});

describe('parallel logins and the bound on pending logins', () => {
  it('two logins started concurrently in one browser both complete', async () => {
    const browser = new TestBrowser();
    await startLogin(browser); // an earlier visit: the browser has its binding cookie
    const [tabA, tabB] = await Promise.all([
      startLogin(browser, app.baseUrl, '/a-page'),
      startLogin(browser, app.baseUrl, '/b-page'),
    ]);
    const callbackA = await authorizeAs('jdoe', tabA);
    const callbackB = await authorizeAs('jdoe', tabB);
    const b = await browser.request(callbackB.href);
    expect(b.status).toBe(302);
    expect(b.headers.get('location')).toBe('/b-page');
    const a = await browser.request(callbackA.href);
    expect(a.status).toBe(302);
    expect(a.headers.get('location')).toBe('/a-page');
  });

  it('10 logins in one browser: at most 5 pending, the oldest dropped, cookies bounded in size', async () => {
    const browser = new TestBrowser();
    const long = `/search?q=${'a'.repeat(1000)}`.slice(0, 512);
    const started: URL[] = [];
    for (let i = 0; i < 10; i++) started.push(await startLogin(browser, app.baseUrl, long));
    const jar = appJar(browser);
    const sealed = [...jar].filter(([name]) => name.startsWith(SEALED_PREFIX));
    const markers = [...jar].filter(([name]) => name.startsWith(MARKER_PREFIX));
    expect(sealed).toHaveLength(5);
    expect(markers).toHaveLength(5);
    // The five newest are the ones kept.
    expect(sealed.map(([name]) => name).sort()).toEqual(started.slice(5).map(sealedName).sort());
    for (const [name, value] of sealed) expect(name.length + value.length).toBeLessThan(1200);
    const binding = [...jar].filter(([name]) => name === BINDING_COOKIE);
    expect(
      [...sealed, ...binding].reduce((sum, [name, value]) => sum + name.length + value.length + 2, 0),
    ).toBeLessThan(6200);

    const oldest = await authorizeAs('jdoe', started[0]!);
    await expectLoginState(await browser.request(oldest.href, { headers: JSON_ACCEPT }));
    const newest = await authorizeAs('jdoe', started[9]!);
    const done = await browser.request(newest.href);
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe(long);
  });
});

describe('cookieSecret rotation', () => {
  const OLD = 'old-cookie-secret-0123456789-abcdefghij';
  const NEW = 'new-cookie-secret-0123456789-abcdefghij';

  /** One app whose cernSso() instance can be replaced (a redeploy with other options). */
  async function rotatingApp() {
    const server: Server = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        resolve(s);
      });
    });
    const base = `http://localhost:${(server.address() as AddressInfo).port}`;
    emulator.registerClient({
      clientId: 'rotating-app',
      clientSecret: 'rotating-app-secret',
      redirectUris: [`${base}/oidc/callback`],
    });
    const instances: CernSso[] = [];
    let current: CernSso | undefined;
    const silent = (): void => undefined;
    const use = (cookieSecret: string | string[]): void => {
      current = cernSso({
        clientId: 'rotating-app',
        clientSecret: 'rotating-app-secret',
        baseUrl: base,
        issuer: emulator.issuer,
        authzApiUrl: emulator.authzApiUrl,
        cookieSecret,
        logger: { debug: silent, info: silent, warn: silent, error: silent },
      });
      instances.push(current);
    };
    const app = express();
    app.use(session({ name: 'app.sid', secret: 's', resave: false, saveUninitialized: false }));
    app.use((req, res, next) => {
      current?.(req, res, next);
    });
    app.get('/api/me', (req, res) => {
      if (!req.sso.isAuthenticated()) res.status(401).json({ error: 'ERR_NOT_AUTHENTICATED' });
      else res.json({ user: req.sso.user });
    });
    server.on('request', app);
    return {
      base,
      use,
      close: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await Promise.all(instances.map((instance) => instance.close()));
      },
    };
  }

  it('a login sealed with the old key completes after rotating to [new, old]; not after dropping old', async () => {
    const rotating = await rotatingApp();
    try {
      rotating.use(OLD);
      const browser = new TestBrowser();
      const kept = await authorizeAs('jdoe', await startLogin(browser, rotating.base));
      const dropped = await authorizeAs('jdoe', await startLogin(browser, rotating.base));

      rotating.use([NEW, OLD]);
      expect((await browser.request(kept.href)).status).toBe(302);
      expect(await whoAmI(browser, rotating.base)).toBe('jdoe');
      // New logins are sealed with the new key...
      const fresh = await authorizeAs('jdoe', await startLogin(browser, rotating.base));
      rotating.use(NEW);
      expect((await browser.request(fresh.href)).status).toBe(302);
      // ...and once the old key is gone, what it sealed no longer opens.
      await expectLoginState(await browser.request(dropped.href, { headers: JSON_ACCEPT }));
    } finally {
      await rotating.close();
    }
  });
});
