/**
 * requireAuth({ maxAgeSec, acr }) through real HTTP against the emulator: browsers are sent
 * through a new login and come back passing, JSON and bearer requests get RFC 9470's 401, the
 * callback checks the new ID token's acr, and a step-up that still falls short gets 403, not a
 * loop. Time moves with fake `Date` only (app and emulator share it; no timers are faked).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { bearerAuth, requireAuth, type CernSsoEvent } from '../../src/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
let app: TestApp;
const events: CernSsoEvent[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator({
    acrLevels: { '1fa': 1, '2fa': 2 },
    users: [{ login: 'jdoe', mfa: true }, { login: 'nomfa' }],
  });
  app = await startTestApp(emulator, {
    clientId: 'step-up',
    sso: {
      onEvent: (event) => {
        events.push(event);
      },
    },
    routes: (express) => {
      express.get('/recent', requireAuth({ maxAgeSec: 300 }), (_req, res) => res.send('recent ok'));
      express.get('/strong', requireAuth({ acr: ['2fa'] }), (_req, res) => res.send('strong ok'));
      express.get('/both', requireAuth({ maxAgeSec: 60, acr: '2fa' }), (_req, res) => res.send('both ok'));
      express.get('/instant', requireAuth({ maxAgeSec: 0 }), (_req, res) => res.send('instant ok'));
      express.get(
        '/bearer/recent',
        bearerAuth({ issuer: emulator.issuer, audience: 'step-up' }),
        requireAuth({ maxAgeSec: 300, acr: '2fa' }),
        (_req, res) => res.send('bearer ok'),
      );
    },
  });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});
afterEach(() => {
  vi.useRealTimers();
  emulator.setAutoLogin(false);
});

/** A browser signed in as `login` (plain login, no step-up), via the emulator's auto-login. */
async function signedIn(login: string): Promise<TestBrowser> {
  const browser = new TestBrowser();
  emulator.setAutoLogin(login);
  const page = await browser.navigate(`${app.baseUrl}/login?returnTo=%2Fprofile`);
  expect(page.status).toBe(200);
  return browser;
}

/** Moves `Date` (app and emulator alike) forward by `ms`. */
function advance(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + ms);
}

describe('requireAuth({ maxAgeSec })', () => {
  it('a fresh login passes; past maxAgeSec a browser is sent to /login with max_age, prompt=login and returnTo, and comes back passing', async () => {
    const browser = await signedIn('jdoe');
    expect((await browser.request(`${app.baseUrl}/recent`)).status).toBe(200);

    advance(301_000);
    const redirect = await browser.request(`${app.baseUrl}/recent?x=1`);
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location') ?? '', app.baseUrl);
    expect(location.pathname).toBe('/login');
    expect(location.searchParams.get('returnTo')).toBe('/recent?x=1');
    expect(location.searchParams.get('max_age')).toBe('300');
    expect(location.searchParams.get('prompt')).toBe('login');
    expect(location.searchParams.has('acr_values')).toBe(false);

    const latestAuthTime = () => Math.max(...emulator.sessions('jdoe').map((s) => s.authTime));
    const before = latestAuthTime();
    const page = await browser.navigate(location.href);
    expect(page.status).toBe(200);
    expect(page.body).toBe('recent ok');
    // prompt=login made the emulator authenticate again: a new auth_time.
    expect(latestAuthTime()).toBeGreaterThanOrEqual(before + 300);
  });

  it('a JSON request past maxAgeSec gets 401 with the RFC 9470 challenge and body', async () => {
    const browser = await signedIn('jdoe');
    advance(301_000);
    const response = await browser.request(`${app.baseUrl}/recent`, { headers: JSON_ACCEPT });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_user_authentication", error_description="This page requires a sign-in within the last 300 seconds.", max_age="300"',
    );
    expect(await response.json()).toEqual({
      error: 'insufficient_user_authentication',
      error_description: 'This page requires a sign-in within the last 300 seconds.',
      code: 'ERR_STEP_UP_REQUIRED',
    });
    // Audited like the other guards' refusals, with what fell short.
    expect(events.at(-1)).toMatchObject({
      type: 'access_denied',
      login: 'jdoe',
      path: '/recent',
      reason: 'maxAge:300',
    });
  });

  it('a step-up that still falls short right after its login gets 403 with a link, not another redirect', async () => {
    const browser = await signedIn('jdoe');
    advance(2_000);
    const redirect = await browser.request(`${app.baseUrl}/instant`);
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location') ?? '', app.baseUrl);
    expect(location.searchParams.get('max_age')).toBe('0');
    // The login (max_age=0, prompt=login) succeeds; a second later the page still falls short.
    const callbackHop = await browser.navigate(location.href);
    expect(callbackHop.hops.some((hop) => hop.url.includes('/oidc/callback'))).toBe(true);
    advance(1_000);
    const page = await browser.request(`${app.baseUrl}/instant`);
    expect(page.status).toBe(403);
    expect(await page.text()).toMatch(
      /did not provide it[\s\S]*href="\/login\?returnTo=%2Finstant&#38;max_age=0&#38;prompt=login"/,
    );
  });
});

describe('requireAuth({ acr })', () => {
  it('acr "1" → redirect with acr_values (no prompt); the emulator reaches 2fa and the page passes', async () => {
    const browser = await signedIn('jdoe');
    const redirect = await browser.request(`${app.baseUrl}/strong`);
    expect(redirect.status).toBe(302);
    const location = new URL(redirect.headers.get('location') ?? '', app.baseUrl);
    expect(location.searchParams.get('acr_values')).toBe('2fa');
    expect(location.searchParams.has('prompt')).toBe(false);
    expect(location.searchParams.has('max_age')).toBe(false);

    const page = await browser.navigate(location.href);
    expect(page.status).toBe(200);
    expect(page.body).toBe('strong ok');
  });

  it('an identity provider answering a lower acr: the callback refuses with 403 and a clear message, no loop', async () => {
    const browser = await signedIn('nomfa');
    const redirect = await browser.request(`${app.baseUrl}/strong`);
    const location = new URL(redirect.headers.get('location') ?? '', app.baseUrl);
    emulator.setAutoLogin('nomfa');
    const page = await browser.navigate(location.href);
    expect(page.status).toBe(403);
    expect(page.body).toContain('needs a stronger sign-in (authentication level 2fa)');
    expect(page.body).toContain('signed you in at level &#34;1fa&#34;');
    // The earlier sign-in stays; the page still asks for the step-up (a redirect, once per click).
    const json = await browser.request(`${app.baseUrl}/strong`, { headers: JSON_ACCEPT });
    expect(json.status).toBe(401);
    expect(((await json.json()) as { code: string }).code).toBe('ERR_STEP_UP_REQUIRED');
  });
});

describe('requireAuth({ maxAgeSec, acr }) for anonymous browsers', () => {
  it('go to /login with max_age and acr_values (no prompt=login): the first sign-in satisfies the page', async () => {
    const browser = new TestBrowser();
    const redirect = await browser.request(`${app.baseUrl}/both`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/login?returnTo=%2Fboth&max_age=60&acr_values=2fa');
    emulator.setAutoLogin('jdoe');
    const page = await browser.navigate(`${app.baseUrl}/both`);
    expect(page.status).toBe(200);
    expect(page.body).toBe('both ok');
  });
});

describe("the emulator's acr, like Keycloak without an ACR-to-LoA mapping", () => {
  it('is "1" when the user authenticated in that request, "0" when the SSO session was reused', async () => {
    const plain = await startCernSsoEmulator();
    const plainApp = await startTestApp(plain, {
      clientId: 'acr-plain',
      routes: (express) => {
        express.get('/acr', requireAuth(), (req, res) => res.json({ acr: req.sso.claims?.acr ?? null }));
      },
    });
    try {
      const browser = new TestBrowser();
      plain.setAutoLogin('jdoe');
      await browser.navigate(`${plainApp.baseUrl}/login`);
      const acr = async () =>
        (
          (await (await browser.request(`${plainApp.baseUrl}/acr`, { headers: JSON_ACCEPT })).json()) as {
            acr: unknown;
          }
        ).acr;
      expect(await acr()).toBe('1');
      // A second login in the same browser: the emulator's SSO cookie is reused, no password.
      plain.setAutoLogin(false);
      await browser.navigate(`${plainApp.baseUrl}/login`);
      expect(await acr()).toBe('0');
      // prompt=login authenticates again.
      plain.setAutoLogin('jdoe');
      await browser.navigate(`${plainApp.baseUrl}/login?prompt=login`);
      expect(await acr()).toBe('1');
    } finally {
      await plainApp.close();
      await plain.close();
    }
  });
});

describe('requireAuth({ maxAgeSec, acr }) on bearer routes', () => {
  it('an access token with an old auth_time or a lower acr gets 401 with acr_values and max_age', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await emulator.issueAccessToken('jdoe', {
      clientId: 'step-up',
      claims: { auth_time: now - 600, acr: '2fa' },
    });
    const weak = await emulator.issueAccessToken('jdoe', {
      clientId: 'step-up',
      claims: { auth_time: now, acr: '1' },
    });
    const good = await emulator.issueAccessToken('jdoe', {
      clientId: 'step-up',
      claims: { auth_time: now, acr: '2fa' },
    });
    for (const token of [old, weak]) {
      const response = await fetch(`${app.baseUrl}/bearer/recent`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/html' },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(
        /^Bearer error="insufficient_user_authentication", error_description="[^"]+", acr_values="2fa", max_age="300"$/,
      );
    }
    const ok = await fetch(`${app.baseUrl}/bearer/recent`, { headers: { authorization: `Bearer ${good}` } });
    expect(ok.status).toBe(200);
  });
});

describe('requireAuth() options', () => {
  it.each([
    [{ maxAgeSec: -1 }, /maxAgeSec/],
    [{ maxAgeSec: 1.5 }, /maxAgeSec/],
    [{ acr: '' }, /acr/],
    [{ acr: ['2fa', 'a b'] }, /acr/],
    [{ acr: [] }, /acr/],
    [{ acr: 'x"y' }, /acr/],
    [{ maxAge: 5 }, /maxAge: unknown option/],
  ])('%j → ERR_CONFIG naming the option', (options, message) => {
    expect(() => requireAuth(options as never)).toThrow(message);
    try {
      requireAuth(options as never);
    } catch (error) {
      expect((error as { code: string }).code).toBe('ERR_CONFIG');
    }
  });
});
