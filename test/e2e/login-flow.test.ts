import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const TOKEN_PATH = '/auth/realms/cern/protocol/openid-connect/token';

let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator);
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.setAutoLogin(false);
  emulator.faults.clear();
});

/** Logs `login` in through the emulator's login form; returns the browser and the final page. */
async function loginWithForm(path = '/profile', login = 'jdoe', password = 'demo') {
  const browser = new TestBrowser();
  const form = await browser.navigate(`${app.baseUrl}${path}`);
  expect(form.status).toBe(200);
  expect(form.body).toMatch(/name="username"/);
  const page = await browser.submitForm(form, { username: login, password });
  return { browser, form, page };
}

/** Starts a login and stops at the redirect to the emulator: returns the authorize URL. */
async function startLogin(browser: TestBrowser, returnTo = '/profile'): Promise<URL> {
  const response = await browser.request(`${app.baseUrl}/login?returnTo=${encodeURIComponent(returnTo)}`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
}

/** Gets the emulator's redirect back to the app (callback URL with code, state, iss) without following it. */
async function authorizeAs(login: string, authorizeUrl: URL): Promise<URL> {
  emulator.setAutoLogin(login);
  const idp = new TestBrowser();
  const response = await idp.request(authorizeUrl.href);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
}

describe('login through the emulator', () => {
  it('a browser is sent to the login form and back to the page it asked for', async () => {
    const { browser, form, page } = await loginWithForm('/profile');
    expect(page.status).toBe(200);
    expect(page.body).toBe('profile of John Doe');
    expect(page.url).toBe(`${app.baseUrl}/profile`);
    const [toLogin, toIdp] = form.hops;
    expect(page.hops[0]?.location).toMatch(/\/oidc\/callback\?/);
    expect(toLogin?.location).toBe('/login?returnTo=%2Fprofile');
    expect(toIdp?.location).toContain(emulator.issuer);
    // Every app cookie (login cookies, then the session) is HttpOnly + SameSite=Lax; the session
    // cookie is set once, at the callback: /login stores no session.
    const appCookies = browser.setCookieHeaders.filter((c) => c.host === 'localhost').map((c) => c.header);
    expect(appCookies.every((header) => /HttpOnly/i.test(header) && /SameSite=Lax/i.test(header))).toBe(true);
    const sessionCookies = browser.setCookieHeaders.filter(
      (c) => c.host === 'localhost' && c.header.startsWith('app.sid='),
    );
    expect(sessionCookies).toHaveLength(1);
  });

  it('sends PKCE S256, state and nonce, and the exact redirect URI', async () => {
    const authorize = await startLogin(new TestBrowser());
    const params = authorize.searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('redirect_uri')).toBe(`${app.baseUrl}/oidc/callback`);
    expect(params.get('scope')).toBe('openid profile email');
    expect(params.get('client_id')).toBe('test-app');
  });

  it('exposes req.sso.user mapped from the CERN claims, and never the tokens', async () => {
    const { browser } = await loginWithForm('/login');
    const response = await browser.request(`${app.baseUrl}/api/me`, {
      headers: { accept: 'application/json' },
    });
    const body = (await response.json()) as { user: Record<string, unknown>; authenticated: boolean };
    expect(body.authenticated).toBe(true);
    expect(body.user).toMatchObject({ login: 'jdoe', firstName: 'John', lastName: 'Doe', roles: ['user'] });
    expect(typeof body.user.personId).toBe('number');
    expect(JSON.stringify(body)).not.toMatch(/eyJ/);
  });

  it('maps a guest without a person id and an eduGAIN login containing a slash', async () => {
    const guest = emulator.users.find((u) => u.personId === undefined && u.login.includes('/'));
    expect(guest, 'seed has an eduGAIN user with / in the login').toBeDefined();
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, '/api/me');
    const callback = await authorizeAs(guest!.login, authorize);
    const page = await browser.navigate(callback.href, { headers: { accept: 'application/json' } });
    const body = JSON.parse(page.body) as { user: Record<string, unknown> };
    expect(body.user.login).toBe(guest!.login);
    expect(body.user).not.toHaveProperty('personId');
  });

  it('completes several logins started in parallel tabs', async () => {
    const browser = new TestBrowser();
    const tabA = await startLogin(browser, '/a-page');
    const tabB = await startLogin(browser, '/b-page');
    const callbackA = await authorizeAs('jdoe', tabA);
    const callbackB = await authorizeAs('jdoe', tabB);
    // B finishes first, then A, each lands where it started.
    const b = await browser.request(callbackB.href);
    expect(b.status).toBe(302);
    expect(b.headers.get('location')).toBe('/b-page');
    const a = await browser.request(callbackA.href);
    expect(a.status).toBe(302);
    expect(a.headers.get('location')).toBe('/a-page');
  });

  it('sanitises returnTo: an absolute URL falls back to /', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, 'https://evil.example/steal');
    const callback = await authorizeAs('jdoe', authorize);
    const response = await browser.request(callback.href);
    expect(response.headers.get('location')).toBe('/');
  });

  // The open-redirect matrix, end to end: /login stores returnTo, the callback redirects to it.
  it.each([
    'https://evil.example/steal',
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%252F%252Fevil.example',
    'javascript:alert(1)',
    'data:text/html,hi',
    '/\r\nLocation: https://evil.example',
    '/%0d%0aLocation:%20https://evil.example',
    '/..//evil.example',
    '/%2e%2e//evil.example',
    '/.//evil.example',
    '/a/..//evil.example',
  ])('an unsafe returnTo %j ends on / after the login', async (returnTo) => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser, returnTo);
    const callback = await authorizeAs('jdoe', authorize);
    const response = await browser.request(callback.href);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/');
  });

  it.each(['/..//evil.example', '/%2e%2e//evil.example', '//evil.example', '/%5C%5Cevil.example'])(
    'an unsafe returnTo sent unencoded in the query (%s) ends on / too',
    async (raw) => {
      const browser = new TestBrowser();
      const start = await browser.request(`${app.baseUrl}/login?returnTo=${raw}`);
      expect(start.status).toBe(302);
      const callback = await authorizeAs('jdoe', new URL(start.headers.get('location') ?? ''));
      const response = await browser.request(callback.href);
      expect(response.headers.get('location')).toBe('/');
    },
  );

  it('wrong password shows the form again, not a login', async () => {
    const { page } = await loginWithForm('/profile', 'jdoe', 'wrong');
    expect(page.status).toBe(401);
    expect(page.body).toMatch(/name="password"/);
  });
});

describe('callback failures are clear 4xx answers', () => {
  it('a forged state: 400, HTML for browsers and JSON for API clients', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    callback.searchParams.set('state', 'forged-state-value');
    const html = await browser.request(callback.href);
    expect(html.status).toBe(400);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toMatch(/sign-in link is unknown, expired or was already used/);
    const json = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ code: 'ERR_LOGIN_STATE' });
  });

  it('a missing state: 400', async () => {
    const response = await new TestBrowser().request(`${app.baseUrl}/oidc/callback?code=abc`, {
      headers: { accept: 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'ERR_LOGIN_STATE' });
  });

  it('a replayed callback (code reuse): 400 and no session', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const loginCookies = new Map(browser.cookies.get('localhost'));
    const callback = await authorizeAs('jdoe', authorize);
    expect((await browser.request(callback.href)).status).toBe(302);
    // The login cookie was cleared at the callback: the same browser cannot replay it.
    const again = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    expect(again.status).toBe(400);
    // An attacker replays it with a copy of the login cookies: Keycloak refuses the used code.
    const attacker = new TestBrowser();
    attacker.cookies.set('localhost', loginCookies);
    const replay = await attacker.request(callback.href, { headers: { accept: 'application/json' } });
    expect(replay.status).toBe(400);
    const me = await attacker.request(`${app.baseUrl}/api/me`, { headers: { accept: 'application/json' } });
    expect(me.status).toBe(401);
  });

  it('?error=access_denied: 403 with a clear message', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const state = authorize.searchParams.get('state') ?? '';
    const response = await browser.request(
      `${app.baseUrl}/oidc/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(emulator.issuer)}`,
      { headers: { accept: 'application/json' } },
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'ERR_LOGIN_DENIED' });
  });

  it('a response without iss (RFC 9207) is refused: 400', async () => {
    emulator.faults.set('/auth/realms/cern/protocol/openid-connect/auth', { omitIss: true });
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    expect(callback.searchParams.has('iss')).toBe(false);
    const response = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'ERR_LOGIN_FAILED' });
  });

  it('a response with another issuer in iss is refused: 400', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    callback.searchParams.set('iss', 'https://evil.example/auth/realms/cern');
    const response = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(400);
  });

  it('the token endpoint failing during the callback: 503 with Retry-After', async () => {
    const browser = new TestBrowser();
    const authorize = await startLogin(browser);
    const callback = await authorizeAs('jdoe', authorize);
    emulator.faults.set(TOKEN_PATH, { status: 503 });
    const response = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('guards', () => {
  it('requireAuth: browsers are redirected to login, API clients get 401 JSON', async () => {
    const browser = new TestBrowser();
    const page = await browser.request(`${app.baseUrl}/profile?tab=1`);
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?returnTo=%2Fprofile%3Ftab%3D1');
    const api = await browser.request(`${app.baseUrl}/api/me`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ code: 'ERR_NOT_AUTHENTICATED' });
  });

  it('requireRole: 403 without the role, 200 with it', async () => {
    const { browser: user } = await loginWithForm('/login', 'jdoe');
    const denied = await user.request(`${app.baseUrl}/admin`);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toMatch(/requires the role/);
    const { browser: admin } = await loginWithForm('/login', 'admin1');
    const allowed = await admin.request(`${app.baseUrl}/admin`);
    expect(allowed.status).toBe(200);
  });
});

describe('tokens', () => {
  it('getAccessToken refreshes an expired token, once for concurrent requests', async () => {
    const shortLived = await startCernSsoEmulator({ accessTokenTtlSec: 31 });
    const shortApp = await startTestApp(shortLived);
    try {
      shortLived.setAutoLogin('jdoe');
      const browser = new TestBrowser();
      await browser.navigate(`${shortApp.baseUrl}/login`);
      const first = (await (await browser.request(`${shortApp.baseUrl}/api/token-info`)).json()) as {
        digest: string;
      };
      // 31 s tokens are "expiring" 1 s after issue (30 s margin): move the clock 2 s on.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 2000);
      shortLived.requests.reset();
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => browser.request(`${shortApp.baseUrl}/api/token-info`)),
      );
      const digests = await Promise.all(
        responses.map(async (r) => ((await r.json()) as { digest: string }).digest),
      );
      expect(shortLived.requests.count(TOKEN_PATH, 'POST')).toBe(1);
      expect(new Set(digests).size).toBe(1);
      expect(digests[0]).not.toBe(first.digest);
    } finally {
      vi.useRealTimers();
      await shortApp.close();
      await shortLived.close();
    }
  });

  it('a refresh refused by the IdP ends the session: 401', async () => {
    const shortLived = await startCernSsoEmulator({ accessTokenTtlSec: 20 });
    const shortApp = await startTestApp(shortLived);
    try {
      shortLived.setAutoLogin('jdoe');
      const browser = new TestBrowser();
      await browser.navigate(`${shortApp.baseUrl}/login`);
      await shortLived.endSsoSessions('jdoe');
      const response = await browser.request(`${shortApp.baseUrl}/api/token-info`, {
        headers: { accept: 'application/json' },
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'ERR_SESSION_EXPIRED' });
      const me = await browser.request(`${shortApp.baseUrl}/api/me`, {
        headers: { accept: 'application/json' },
      });
      expect(me.status).toBe(401);
    } finally {
      await shortApp.close();
      await shortLived.close();
    }
  });
});

describe('logout', () => {
  it('destroys the session and ends the SSO session at Keycloak', async () => {
    const { browser } = await loginWithForm('/login');
    const response = await browser.request(`${app.baseUrl}/logout`, { method: 'POST' });
    expect(response.status).toBe(302);
    const endSession = new URL(response.headers.get('location') ?? '');
    expect(endSession.href.startsWith(`${emulator.issuer}/protocol/openid-connect/logout`)).toBe(true);
    expect(endSession.searchParams.get('client_id')).toBe('test-app');
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.baseUrl}/`);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    const back = await browser.navigate(endSession.href);
    expect(back.url).toBe(`${app.baseUrl}/`);
    expect(back.body).toBe('home (anonymous)');
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: { accept: 'application/json' } });
    expect(me.status).toBe(401);
    // The SSO session at the emulator is gone too: the next login asks for the password again.
    const again = await browser.navigate(`${app.baseUrl}/profile`);
    expect(again.body).toMatch(/name="password"/);
  });

  it('GET /logout works too, and without idpLogout stays local', async () => {
    const local = await startTestApp(emulator, { clientId: 'local-logout', sso: { idpLogout: false } });
    try {
      emulator.setAutoLogin('jdoe');
      const browser = new TestBrowser();
      await browser.navigate(`${local.baseUrl}/login`);
      const response = await browser.request(`${local.baseUrl}/logout`);
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('/');
      const me = await browser.request(`${local.baseUrl}/api/me`, {
        headers: { accept: 'application/json' },
      });
      expect(me.status).toBe(401);
    } finally {
      await local.close();
    }
  });
});

describe('Keycloak unavailable', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the app starts, login answers 503 with Retry-After, and recovers by itself', async () => {
    const down = await startCernSsoEmulator();
    await down.suspend();
    const downApp = await startTestApp(down, { clientId: 'down-app' });
    // The library's clock stands still until the test moves it (sockets stay real).
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const browser = new TestBrowser();
      const unavailable = await browser.request(`${downApp.baseUrl}/login`, {
        headers: { accept: 'application/json' },
      });
      expect(unavailable.status).toBe(503);
      expect(Number(unavailable.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await unavailable.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
      const page = await browser.request(`${downApp.baseUrl}/login`);
      expect(page.status).toBe(503);
      expect(await page.text()).toMatch(/temporarily unavailable/i);

      await down.resume();
      // Within the retry delay (2 s) the failure is answered from memory, Keycloak is not asked.
      down.requests.reset();
      expect((await browser.request(`${downApp.baseUrl}/login`)).status).toBe(503);
      expect(down.requests.count('/auth/realms/cern/.well-known/openid-configuration')).toBe(0);
      // Once it has passed, the next login discovers again and redirects to Keycloak.
      vi.setSystemTime(Date.now() + 2000);
      expect((await browser.request(`${downApp.baseUrl}/login`)).status).toBe(302);
    } finally {
      await downApp.close();
      await down.close();
    }
  });
});

describe('Keycloak failing in other ways', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['answers 503 to discovery', { status: 503 }, /failed; retrying: .*\(reason=HTTP 503 url=/],
    ['answers 500 to discovery', { status: 500 }, /failed; retrying: .*\(reason=HTTP 500 url=/],
    // openid-client's timeout is whole seconds: 1 s is the shortest a hanging Keycloak can cost.
    ['hangs on discovery', { hang: true }, /failed; retrying: .*\(reason=timeout url=/],
  ] as const)(
    'Keycloak %s: login answers 503 with Retry-After, then recovers',
    async (_what, fault, logged) => {
      const failing = await startCernSsoEmulator();
      failing.faults.set('/auth/realms/cern/.well-known', fault);
      const failingApp = await startTestApp(failing, {
        clientId: 'failing-app',
        sso: { httpTimeoutMs: 1000 },
      });
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        const browser = new TestBrowser();
        const unavailable = await browser.request(`${failingApp.baseUrl}/login`, {
          headers: { accept: 'application/json' },
        });
        expect(unavailable.status).toBe(503);
        expect(Number(unavailable.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await unavailable.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
        // The log names the cause (a hang ends with the HTTP timeout, not the browser's patience).
        expect(failingApp.logger.text()).toMatch(logged);
        failing.faults.clear();
        expect((await browser.request(`${failingApp.baseUrl}/login`)).status).toBe(503);
        vi.setSystemTime(Date.now() + 2000);
        expect((await browser.request(`${failingApp.baseUrl}/login`)).status).toBe(302);
      } finally {
        await failingApp.close();
        await failing.close();
      }
    },
  );
});

describe('misconfiguration', () => {
  it('an https app whose session cookie is not secure gets one warning at the first login', async () => {
    // The app's external URL is https (a TLS-terminating proxy in front), its cookie not secure.
    const tlsBase = 'https://app.example.test';
    emulator.registerClient({
      clientId: 'tls-app-2',
      clientSecret: 'tls-app-2-secret',
      redirectUris: [`${tlsBase}/oidc/callback`],
    });
    const tls = await startTestApp(emulator, {
      clientId: 'tls-app-3',
      sso: { baseUrl: tlsBase, clientId: 'tls-app-2', clientSecret: 'tls-app-2-secret' },
    });
    try {
      const browser = new TestBrowser();
      const start = await browser.request(`${tls.baseUrl}/login`);
      const callback = await authorizeAs('jdoe', new URL(start.headers.get('location') ?? ''));
      expect(callback.origin).toBe(new URL(tlsBase).origin);
      // What the proxy would do: forward the callback to the app over http.
      const response = await browser.request(callback.href.replace(tlsBase, tls.baseUrl));
      expect(response.status).toBe(302);
      expect(tls.logger.lines('warn').join(' ')).toMatch(/session cookie is not "secure"/);
    } finally {
      await tls.close();
    }
  });

  it('without express-session: a clear error in the log, a 500 without details to the client', async () => {
    const bare = await startTestApp(emulator, { clientId: 'no-session', withSession: false });
    try {
      const response = await fetch(`${bare.baseUrl}/login`, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
      });
      expect(response.status).toBe(500);
      const body = (await response.json()) as { error_description: string };
      expect(body.error_description).not.toMatch(/at .*\.ts/);
      expect(bare.logger.text()).toMatch(/express-session/);
    } finally {
      await bare.close();
    }
  });
});
