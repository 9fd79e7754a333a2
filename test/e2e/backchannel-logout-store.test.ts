/**
 * Back-channel logouts live in the session store: they hold however much other data passes
 * through the library's cache, and a session store that fails or hangs during the per-request
 * check answers 503 (`logoutCheckFailure: 'deny'`, the default) or lets the request through with
 * one warning (`'allow'`), after at most `logoutCheckTimeoutMs`.
 */
import session from 'express-session';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryCache, type CacheStore, type CernSsoOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { LOGOUT_RECHECK_MS } from '../../src/auth/logout-markers.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };
const MARKER_PREFIX = 'cern-sso.logout.';

let emulator: CernSsoEmulator;
const apps: TestApp[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await emulator.close();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Moves the clock (Date only; sockets and timers stay real) past LOGOUT_RECHECK_MS: an instance
 * reuses a "not logged out" answer that long, so its next request reads the markers again.
 */
function pastRecheck(): void {
  const next = Date.now() + LOGOUT_RECHECK_MS + 1;
  if (vi.isFakeTimers()) vi.setSystemTime(next);
  else vi.useFakeTimers({ toFake: ['Date'], now: next });
}

/** An app registered for back-channel logout at the emulator. */
async function startApp(
  clientId: string,
  options: { sso?: Partial<CernSsoOptions>; sessionStore?: session.Store } = {},
): Promise<TestApp> {
  const app = await startTestApp(emulator, { clientId, ...options });
  apps.push(app);
  const client = emulator.clients.get(clientId);
  if (!client) throw new Error(`client ${clientId} not registered`);
  emulator.registerClient({ ...client, backchannelLogoutUri: `${app.baseUrl}/oidc/backchannel-logout` });
  return app;
}

async function signedIn(app: TestApp, login: string): Promise<TestBrowser> {
  emulator.setAutoLogin(login);
  const browser = new TestBrowser();
  expect((await browser.navigate(`${app.baseUrl}/login`)).body).toBe(`home of ${login}`);
  return browser;
}

const me = (app: TestApp, browser: TestBrowser) =>
  browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });

describe('a logout holds however much other data passes through the cache', () => {
  it('20 000 cache entries and 150 searches after the logout: the session stays logged out', async () => {
    // A small cache, so that the churn below evicts everything many times over; the wrapper
    // records every key the library writes.
    const lru = memoryCache({ max: 100 });
    const written: string[] = [];
    const cache: CacheStore = {
      get: (key) => lru.get(key),
      set: (key, value, ttlMs) => {
        written.push(key);
        return lru.set(key, value, ttlMs);
      },
      delete: (key) => lru.delete(key),
    };
    const app = await startApp('bcl-churn-app', { sso: { cache } });
    const browser = await signedIn(app, 'jdoe');
    const bystander = await signedIn(app, 'mmartin');
    expect((await me(app, browser)).status).toBe(200);

    await emulator.endSsoSessions('jdoe');
    for (let i = 0; i < 20_000; i++) await cache.set(`churn:${i}`, { i }, 60_000);
    for (let i = 0; i < 150; i++) await app.sso.identity.searchUsers({ lastName: `user${i}` });

    expect((await me(app, browser)).status).toBe(401);
    expect((await me(app, browser)).status).toBe(401);
    expect((await me(app, bystander)).status).toBe(200);
    // The cache never saw a logout marker.
    expect(written.filter((key) => /logout/i.test(key))).toEqual([]);
  });

  it('a second instance on the same session store sees the logout received by the first within LOGOUT_RECHECK_MS; the first at once', async () => {
    const store = new session.MemoryStore();
    const first = await startApp('bcl-shared-store-app', { sessionStore: store });
    const browser = await signedIn(first, 'jdoe');
    const cookie = browser.cookie('localhost', 'app.sid') ?? '';
    const second = await startTestApp(emulator, { sessionStore: store, clientId: 'bcl-shared-store-app' });
    apps.push(second);
    // startTestApp registered the client again for the second instance: Keycloak delivers
    // the logout to one URL, the first instance's.
    const client = emulator.clients.get('bcl-shared-store-app');
    if (!client) throw new Error('client not registered');
    emulator.registerClient({ ...client, backchannelLogoutUri: `${first.baseUrl}/oidc/backchannel-logout` });
    const onSecond = () =>
      fetch(`${second.baseUrl}/api/me`, { headers: { ...JSON_ACCEPT, cookie: `app.sid=${cookie}` } });
    expect((await onSecond()).status).toBe(200); // the second instance holds the sign-in now
    expect((await me(first, browser)).status).toBe(200);
    await emulator.endSsoSessions('jdoe'); // delivered to the first instance's URL
    // The instance that recorded the logout drops its reused answers at once.
    expect((await me(first, browser)).status).toBe(401);
    pastRecheck();
    expect((await onSecond()).status).toBe(401);
  });
});

/** A MemoryStore whose reads of logout entries fail or never answer while `mode` says so. */
class FlakyStore extends session.MemoryStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  override get(id: string, done: (error: unknown, value?: session.SessionData | null) => void): void {
    if (this.mode !== 'ok' && id.startsWith(MARKER_PREFIX)) {
      if (this.mode === 'fail') done(new Error('connection lost'));
      return; // 'hang': never calls back
    }
    super.get(id, done);
  }
}

describe.each(['fail', 'hang'] as const)('a session store whose marker reads %s', (mode) => {
  it("logoutCheckFailure 'deny' (default): 503 ERR_UPSTREAM_UNAVAILABLE with Retry-After, signed in again once it is back", async () => {
    const store = new FlakyStore();
    const app = await startApp(`bcl-deny-${mode}-app`, {
      sessionStore: store,
      sso: { logoutCheckTimeoutMs: 50 },
    });
    const browser = await signedIn(app, 'jdoe');
    store.mode = mode;
    pastRecheck();
    const down = await me(app, browser);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await down.json()).toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
      error_description: /Session store/,
    });
    const page = await browser.request(`${app.baseUrl}/profile`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    expect(await page.text()).not.toMatch(/ at .*\.js/);
    expect(app.logger.lines('warn').filter((line) => line.includes('logout markers'))).toHaveLength(1);
    store.mode = 'ok';
    expect((await me(app, browser)).status).toBe(200);
  });

  it("logoutCheckFailure 'allow': signed in, with one warning for many requests", async () => {
    const store = new FlakyStore();
    const app = await startApp(`bcl-allow-${mode}-app`, {
      sessionStore: store,
      sso: { logoutCheckTimeoutMs: 50, logoutCheckFailure: 'allow' },
    });
    const browser = await signedIn(app, 'jdoe');
    store.mode = mode;
    pastRecheck();
    for (let i = 0; i < 3; i++) {
      const response = await me(app, browser);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ authenticated: true, user: { login: 'jdoe' } });
    }
    const warnings = app.logger.lines('warn').filter((line) => line.includes('logout'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(mode === 'fail' ? /connection lost/ : /did not answer within 50 ms/);
  });
});
