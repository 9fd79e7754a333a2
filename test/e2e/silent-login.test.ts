/**
 * Silent login (`/login?prompt=none`) and `attemptSilentLogin()`, through real HTTP against the
 * emulator, which answers `prompt=none` like Keycloak: a code without a page when the browser has
 * an SSO session there, `error=login_required` otherwise.
 */
import session from 'express-session';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attemptSilentLogin } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import type { Express } from 'express';
import { SEALED_PREFIX } from '../../src/auth/login-cookies.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { loginSteps } from '../helpers/login-steps.js';

const JSON_ACCEPT = { accept: 'application/json' };
const SILENT = 'cern-sso.silent';

let emulator: CernSsoEmulator;
let app: TestApp;
/** An app without single logout at Keycloak: the SSO session outlives the app's logout. */
let localLogout: TestApp;
const store = new session.MemoryStore();
const steps = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

/** Pages behind `attemptSilentLogin()` that say who is signed in. */
function pages(express: Express): void {
  express.use(attemptSilentLogin());
  const who = (req: Express['request']) =>
    req.sso.isAuthenticated() ? `of ${req.sso.user?.login ?? '?'}` : '(anonymous)';
  express.get('/x', (req, res) => res.send(`x ${who(req)}`));
  express.get('/page', (req, res) => res.send(`page ${who(req)}`));
  express.post('/page', (req, res) => res.send(`posted ${who(req)}`));
  express.get('/api/data', (req, res) => res.json({ authenticated: req.sso.isAuthenticated() }));
}

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { sessionStore: store, routes: pages });
  localLogout = await startTestApp(emulator, {
    clientId: 'local-logout',
    sso: { idpLogout: false },
    routes: pages,
  });
});
afterAll(async () => {
  await app.close();
  await localLogout.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.setAutoLogin(false);
});

/** Everything in the session store: sessions and sign-in records. */
function storeSize(): Promise<number> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(Object.keys(all ?? {}).length);
    });
  });
}

/** A browser with an SSO session at the emulator (signed in to the app once, then app cookies dropped). */
async function browserWithSsoSession(base = app.baseUrl): Promise<TestBrowser> {
  const browser = new TestBrowser();
  emulator.setAutoLogin('jdoe');
  const page = await browser.navigate(`${base}/login?returnTo=%2Fx`);
  emulator.setAutoLogin(false);
  expect(page.body).toBe('x of jdoe');
  browser.cookies.delete('localhost');
  return browser;
}

/** A callback for the login `browser` started at `authorize`, with an `?error=` as Keycloak sends it. */
function errorCallback(authorize: URL, error: string, extra: Record<string, string> = {}): string {
  const url = new URL(`${app.baseUrl}/oidc/callback`);
  url.search = new URLSearchParams({
    error,
    state: authorize.searchParams.get('state') ?? '',
    iss: emulator.issuer,
    ...extra,
  }).toString();
  return url.href;
}

async function startLogin(browser: TestBrowser, query: string): Promise<URL> {
  const response = await browser.request(`${app.baseUrl}/login${query}`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
}

const loginCookies = (browser: TestBrowser): string[] =>
  [...(browser.cookies.get('localhost')?.keys() ?? [])].filter((name) => name.startsWith(SEALED_PREFIX));

describe('/login?prompt=none', () => {
  it('with an SSO session at the emulator: signed in without a page, back at returnTo', async () => {
    const browser = await browserWithSsoSession();
    const page = await browser.navigate(`${app.baseUrl}/login?prompt=none&returnTo=%2Fx`);
    expect(page.url).toBe(`${app.baseUrl}/x`);
    expect(page.body).toBe('x of jdoe');
    expect(page.hops.slice(0, -1).every((hop) => hop.status === 302)).toBe(true);
    expect(page.hops[1]?.location).toMatch(/\/oidc\/callback\?.*code=/);
  });

  it('without one: back at returnTo anonymous (302, no error page), login cookies cleared, nothing stored', async () => {
    // autoLogin does not apply to prompt=none: no page is shown, nobody types a password.
    emulator.setAutoLogin('jdoe');
    const before = await storeSize();
    const browser = new TestBrowser();
    const page = await browser.navigate(`${app.baseUrl}/login?prompt=none&returnTo=%2Fx`);
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${app.baseUrl}/x`);
    expect(page.body).toBe('x (anonymous)');
    const callback = page.hops[2];
    expect(callback?.url).toMatch(/\/oidc\/callback\?.*error=login_required/);
    expect(callback).toMatchObject({ status: 302, location: '/x' });
    expect(loginCookies(browser)).toEqual([]);
    expect(browser.cookie('localhost', 'app.sid')).toBeUndefined();
    expect(await storeSize()).toBe(before);
  });

  it.each(['login_required', 'interaction_required', 'consent_required', 'account_selection_required'])(
    '%s answering a silent login returns to returnTo anonymous',
    async (error) => {
      const browser = new TestBrowser();
      const authorize = await startLogin(browser, '?prompt=none&returnTo=%2Fpage%3Fa%3D1');
      const answer = await browser.request(errorCallback(authorize, error));
      expect(answer.status).toBe(302);
      expect(answer.headers.get('location')).toBe('/page?a=1');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(loginCookies(browser)).toEqual([]);
    },
  );

  it('returnTo is the sealed, same-origin one: //evil.example becomes /', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, '?prompt=none&returnTo=%2F%2Fevil.example');
    const answer = await browser.request(
      errorCallback(authorize, 'login_required', { returnTo: '//evil.example' }),
    );
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/');
  });

  it('other errors of a silent login keep the error page', async () => {
    for (const [error, status] of [
      ['access_denied', 403],
      ['server_error', 400],
      ['invalid_request', 400],
    ] as const) {
      const browser = new TestBrowser();
      const authorize = await startLogin(browser, '?prompt=none&returnTo=%2Fx');
      const answer = await browser.request(errorCallback(authorize, error));
      expect(answer.status, error).toBe(status);
      expect(answer.headers.get('location')).toBeNull();
    }
  });

  it('login_required answering a login that did not ask prompt=none keeps the error page, whatever the query says', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, '?returnTo=%2Fx');
    const answer = await browser.request(errorCallback(authorize, 'login_required', { prompt: 'none' }));
    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(/you need to sign in at the login service/);
  });

  it('state and iss are still checked: a forged login_required redirects nowhere', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, '?prompt=none&returnTo=%2Fx');
    const wrongState = await browser.request(
      errorCallback(new URL('https://x.example/?state=forged'), 'login_required'),
      { headers: JSON_ACCEPT },
    );
    expect(wrongState.status).toBe(400);
    expect(((await wrongState.json()) as { code: string }).code).toBe('ERR_LOGIN_STATE');
    const wrongIssuer = await browser.request(
      errorCallback(authorize, 'login_required', { iss: 'https://evil.example/realms/cern' }),
      { headers: JSON_ACCEPT },
    );
    expect(wrongIssuer.status).toBeGreaterThanOrEqual(400);
    expect(wrongIssuer.headers.get('location')).toBeNull();
    // Another browser (no binding cookie) cannot use the genuine state either.
    const other = await new TestBrowser().request(errorCallback(authorize, 'login_required'), {
      headers: JSON_ACCEPT,
    });
    expect(other.status).toBe(400);
    expect(other.headers.get('location')).toBeNull();
  });
});

describe('attemptSilentLogin()', () => {
  it('redirects an anonymous page load once, then never again (no loop)', async () => {
    const before = await storeSize();
    const browser = new TestBrowser();
    const first = await browser.request(`${app.baseUrl}/page?q=1`);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('/login?prompt=none&returnTo=%2Fpage%3Fq%3D1');
    const marker = first.headers.getSetCookie().find((header) => header.startsWith(`${SILENT}=`));
    expect(marker).toMatch(/^cern-sso\.silent=1; Path=\/; HttpOnly; SameSite=Lax$/);
    // The rest of the round trip: anonymous, back on the page.
    const landed = await browser.navigate(new URL(first.headers.get('location') ?? '', app.baseUrl).href);
    expect(landed.url).toBe(`${app.baseUrl}/page?q=1`);
    expect(landed.body).toBe('page (anonymous)');
    for (const path of ['/page', '/x', '/page?q=2']) {
      const next = await browser.navigate(`${app.baseUrl}${path}`);
      expect(next.hops, path).toHaveLength(1);
      expect(next.status).toBe(200);
      expect(next.body).toMatch(/\(anonymous\)$/);
    }
    expect(await storeSize()).toBe(before);
  });

  it('signs a browser with an SSO session in on its first page load', async () => {
    const browser = await browserWithSsoSession();
    const page = await browser.navigate(`${app.baseUrl}/page`);
    expect(page.url).toBe(`${app.baseUrl}/page`);
    expect(page.body).toBe('page of jdoe');
    expect(page.hops).toHaveLength(5);
    const again = await browser.navigate(`${app.baseUrl}/x`);
    expect(again.hops).toHaveLength(1);
    expect(again.body).toBe('x of jdoe');
  });

  it.each([
    ['JSON', { accept: 'application/json' }, 'GET'],
    ['XHR', { 'x-requested-with': 'XMLHttpRequest' }, 'GET'],
    ['fetch()', { 'sec-fetch-dest': 'empty' }, 'GET'],
    ['an iframe', { 'sec-fetch-dest': 'iframe' }, 'GET'],
    ['a prefetch', { 'sec-purpose': 'prefetch' }, 'GET'],
    ['POST', {}, 'POST'],
    ['HEAD', {}, 'HEAD'],
  ])('passes %s through untouched', async (_what, headers: Record<string, string>, method) => {
    const browser = new TestBrowser();
    const path = method === 'GET' && headers.accept === 'application/json' ? '/api/data' : '/page';
    const response = await browser.request(`${app.baseUrl}${path}`, { method, headers });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie().some((header) => header.startsWith(SILENT))).toBe(false);
  });

  it('a navigation as browsers send it (Sec-Fetch-Dest: document) is tried', async () => {
    const response = await new TestBrowser().request(`${app.baseUrl}/page`, {
      headers: { 'sec-fetch-dest': 'document' },
    });
    expect(response.status).toBe(302);
  });

  it('passes signed-in users through untouched', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, '?returnTo=%2Fx');
    await browser.navigate((await steps.authorizeAs('jdoe', authorize)).href);
    expect(browser.cookie('localhost', SILENT)).toBeUndefined();
    const page = await browser.request(`${app.baseUrl}/page`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('page of jdoe');
    expect(page.headers.getSetCookie()).toEqual([]);
  });

  it('after logout the browser stays signed out, even when the SSO session lives on (idpLogout: false)', async () => {
    const browser = await browserWithSsoSession(localLogout.baseUrl);
    const signedIn = await browser.navigate(`${localLogout.baseUrl}/page`);
    expect(signedIn.body).toBe('page of jdoe');
    browser.cookies.get('localhost')?.delete(SILENT);
    const logout = await browser.request(`${localLogout.baseUrl}/logout`);
    expect(logout.status).toBe(302);
    expect(logout.headers.getSetCookie().some((header) => header.startsWith(`${SILENT}=1`))).toBe(true);
    const after = await browser.navigate(`${localLogout.baseUrl}/page`);
    expect(after.hops).toHaveLength(1);
    expect(after.body).toBe('page (anonymous)');
  });

  it('never redirects the routes of cernSso() themselves', async () => {
    const browser = new TestBrowser();
    const login = await browser.request(`${app.baseUrl}/login?returnTo=%2Fx`);
    expect(login.headers.get('location')).not.toMatch(/prompt=none/);
    expect(browser.cookie('localhost', SILENT)).toBeUndefined();
  });
});

describe('attemptSilentLogin() without cernSso()', () => {
  it('answers a clear 500 ERR_CONFIG instead of guessing', async () => {
    const { default: express } = await import('express');
    const bare = express();
    bare.use(attemptSilentLogin());
    bare.get('/page', (_req, res) => res.send('page'));
    const server = bare.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/page`, { headers: JSON_ACCEPT });
      expect(response.status).toBe(500);
      expect(((await response.json()) as { code: string }).code).toBe('ERR_CONFIG');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
