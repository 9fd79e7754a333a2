/**
 * Misconfiguration is not an outage, and an outage is one everywhere, through real HTTP against
 * the emulator: a wrong client secret (at the callback, at refresh, for the identity provider's
 * API token), a redirect URI or client Keycloak does not know (checked when a login starts, at most
 * every 30 s), a 429 from the token endpoint, Keycloak unreachable.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { cernSsoErrorHandler, createIdentityProvider } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger, startTestApp, type RecordingLogger, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps } from '../helpers/login-steps.js';

const REALM = '/auth/realms/cern';
const TOKEN_PATH = `${REALM}/protocol/openid-connect/token`;
const AUTH_PATH = `${REALM}/protocol/openid-connect/auth`;
const API_TOKEN_PATH = `${REALM}/api-access/token`;
const JSON_ACCEPT = { accept: 'application/json' };
const WRONG_SECRET = 'not-the-secret-4f9a8b7c';
const MISCONFIGURED = {
  error: 'server_error',
  error_description: 'Sign-in is misconfigured for this application; please tell its administrators.',
  code: 'ERR_IDP_MISCONFIGURED',
};

let emulator: CernSsoEmulator;
const apps: TestApp[] = [];
let clients = 0;

beforeAll(async () => {
  // 20 s access tokens: inside the 30 s margin, so every getAccessToken() refreshes.
  emulator = await startCernSsoEmulator({ accessTokenTtlSec: 20 });
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await emulator.close();
});
beforeEach(() => {
  emulator.faults.clear();
  emulator.requests.reset();
  emulator.setAutoLogin(false);
});
afterEach(() => {
  vi.useRealTimers();
});

/** An app of its own client (so that re-registering it disturbs no other test). */
async function newApp(sso: Parameters<typeof startTestApp>[1] = {}): Promise<TestApp> {
  clients += 1;
  const app = await startTestApp(emulator, { clientId: `misconfigured-${String(clients)}`, ...sso });
  apps.push(app);
  return app;
}

const errorLines = (logger: RecordingLogger): string[] => logger.lines('error');

/** Every line logged at error level names the fix; none has the secret. */
function expectSecretFix(logger: RecordingLogger, tokenUrl: string): void {
  const lines = errorLines(logger);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^sign-in is misconfigured: /);
  expect(lines[0]).toContain(`code=ERR_IDP_MISCONFIGURED url=${tokenUrl} option=clientSecret problem=`);
  expect(lines[0]).toContain(`(${tokenUrl}) refused the client credentials (HTTP 401 unauthorized_client`);
  expect(lines[0]).toMatch(/check clientId and clientSecret/);
  expect(logger.text()).not.toContain(WRONG_SECRET);
}

describe('a wrong client secret', () => {
  it('at the callback: 500 ERR_IDP_MISCONFIGURED in the one JSON shape, one error line naming clientSecret and the token endpoint', async () => {
    const app = await newApp({ sso: { clientSecret: WRONG_SECRET } });
    const steps = loginSteps(
      () => emulator,
      () => app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    const res = await browser.request(callback.href, { headers: JSON_ACCEPT });
    expect(res.status).toBe(500);
    expect(res.headers.get('retry-after')).toBeNull();
    const body = await res.text();
    expect(JSON.parse(body)).toEqual(MISCONFIGURED);
    expect(body).not.toContain(WRONG_SECRET);
    expectSecretFix(app.logger, `${emulator.issuer}/protocol/openid-connect/token`);
    expect(app.logger.lines('warn').join('\n')).not.toMatch(/sign-in (rejected|callback failed)/);
  });

  it('at refresh (/api/token-info, the secret changed at Keycloak): 500 ERR_IDP_MISCONFIGURED, one error line', async () => {
    const app = await newApp();
    const clientId = `misconfigured-${String(clients)}`;
    emulator.setAutoLogin('jdoe');
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/login`);
    emulator.registerClient({
      clientId,
      clientSecret: 'rotated-at-the-portal',
      redirectUris: [`${app.baseUrl}/oidc/callback`],
    });
    const res = await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED' });
    const lines = errorLines(app.logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^sign-in is misconfigured: .* option=clientSecret problem=.*openid-connect\/token\) refused/,
    );
    expect(app.logger.lines('warn').join('\n')).not.toMatch(/token refresh failed/);
    expect(app.logger.text()).not.toContain('rotated-at-the-portal');
  });

  it("for the identity provider's API token: getUserGroups answers 500 ERR_IDP_MISCONFIGURED, logged once per 30 s", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const logger = recordingLogger();
    const identity = createIdentityProvider({
      clientId: 'demo-app',
      clientSecret: WRONG_SECRET,
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      logger,
    });
    const api = express();
    api.get('/groups', async (_req, res) => {
      res.json(await identity.getUserGroups('jdoe'));
    });
    api.use(cernSsoErrorHandler({ logger }));
    const server = await listen(api);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await fetch(`${server.url}/groups`, { headers: JSON_ACCEPT });
        expect(res.status).toBe(500);
        expect(await res.json()).toEqual(MISCONFIGURED);
      }
      // The second request was answered from memory: one token request, one error line.
      expect(emulator.requests.count(API_TOKEN_PATH)).toBe(1);
      expect(errorLines(logger)).toHaveLength(1);
      expect(errorLines(logger)[0]).toMatch(
        /^sign-in is misconfigured: .* option=clientSecret problem=.*api-access\/token\)/,
      );
      expect(logger.text()).not.toContain(WRONG_SECRET);
      vi.setSystemTime(Date.now() + 30_000);
      expect((await fetch(`${server.url}/groups`, { headers: JSON_ACCEPT })).status).toBe(500);
      expect(emulator.requests.count(API_TOKEN_PATH)).toBe(2);
    } finally {
      await server.close();
      await identity.close();
    }
  });
});

describe('a redirect URI Keycloak does not know', () => {
  it('/login answers ERR_IDP_MISCONFIGURED and logs the redirect URI to register; checked at most every 30 s', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const app = await newApp();
    const clientId = `misconfigured-${String(clients)}`;
    const register = (redirectUri: string): void => {
      emulator.registerClient({ clientId, clientSecret: `${clientId}-secret`, redirectUris: [redirectUri] });
    };
    register('https://elsewhere.example/oidc/callback');

    const first = await fetch(`${app.baseUrl}/login`, { headers: JSON_ACCEPT, redirect: 'manual' });
    expect(first.status).toBe(500);
    expect(await first.json()).toEqual(MISCONFIGURED);
    const lines = errorLines(app.logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`refuses the redirect URI ${app.baseUrl}/oidc/callback`);
    expect(lines[0]).toContain(`register exactly ${app.baseUrl}/oidc/callback`);
    expect(lines[0]).toMatch(
      /^sign-in is misconfigured \(code=ERR_IDP_MISCONFIGURED url=.* option=baseUrl problem=.*Application Portal/,
    );

    // Fixed at the portal: within 30 s the last answer holds (no new check), then logins work.
    register(`${app.baseUrl}/oidc/callback`);
    const held = await fetch(`${app.baseUrl}/login`, { headers: JSON_ACCEPT, redirect: 'manual' });
    expect(held.status).toBe(500);
    expect(emulator.requests.count(AUTH_PATH)).toBe(1);
    expect(errorLines(app.logger)).toHaveLength(1);
    vi.setSystemTime(Date.now() + 30_000);
    const fixed = await fetch(`${app.baseUrl}/login`, { redirect: 'manual' });
    expect(fixed.status).toBe(302);
    expect(emulator.requests.count(AUTH_PATH)).toBe(2);
    // Accepted: no check again within 30 s.
    expect((await fetch(`${app.baseUrl}/login`, { redirect: 'manual' })).status).toBe(302);
    expect(emulator.requests.count(AUTH_PATH)).toBe(2);
  });

  it('an unknown client_id ("Client not found"): ERR_IDP_MISCONFIGURED naming clientId', async () => {
    const app = await newApp({ sso: { clientId: 'never-registered-app' } });
    const res = await fetch(`${app.baseUrl}/login`, { headers: JSON_ACCEPT, redirect: 'manual' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(MISCONFIGURED);
    expect(errorLines(app.logger)).toEqual([
      expect.stringMatching(
        /^sign-in is misconfigured \(.* option=clientId problem=.*"never-registered-app".*Client not found/,
      ),
    ]);
  });

  it('network down during the check: 503 with Retry-After, not a misconfiguration', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const app = await newApp();
    expect((await fetch(`${app.baseUrl}/login`, { redirect: 'manual' })).status).toBe(302);
    vi.setSystemTime(Date.now() + 30_000);
    // Discovery is kept; only the check meets the network failure.
    await emulator.suspend();
    try {
      const res = await fetch(`${app.baseUrl}/login`, { headers: JSON_ACCEPT, redirect: 'manual' });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
      expect(app.logger.error).not.toHaveBeenCalled();
      expect(app.logger.lines('warn').join('\n')).toMatch(
        /checking the redirect URI failed; retrying: .*ECONNREFUSED.*\(reason=ECONNREFUSED url=.*openid-connect\/auth /,
      );
    } finally {
      await emulator.resume();
    }
  });
});

describe('429 from the token endpoint is an outage everywhere: 503 with the upstream Retry-After', () => {
  it('at the callback', async () => {
    const app = await newApp();
    const steps = loginSteps(
      () => emulator,
      () => app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    emulator.faults.set(TOKEN_PATH, { status: 429, retryAfterSec: 7, times: 1 });
    const res = await browser.request(callback.href, { headers: JSON_ACCEPT });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
      error: 'temporarily_unavailable',
    });
    expect(app.logger.lines('warn').join('\n')).toContain(
      `sign-in callback failed: Error HTTP 429: ${emulator.issuer}/protocol/openid-connect/token: HTTP 429 (code=ERR_UPSTREAM_UNAVAILABLE url=${emulator.issuer}/protocol/openid-connect/token)`,
    );
  });

  it('at refresh (not a 400 ERR_SESSION_EXPIRED), bounded to 300 s', async () => {
    const app = await newApp();
    emulator.setAutoLogin('jdoe');
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/login`);
    emulator.faults.set(TOKEN_PATH, { status: 429, retryAfterSec: 86_400, times: 1 });
    const res = await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('300');
    expect(await res.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    // Still signed in: the next refresh works.
    expect((await browser.request(`${app.baseUrl}/api/token-info`)).status).toBe(200);
  });

  it("in the identity provider's API token request", async () => {
    const identity = createIdentityProvider({
      clientId: 'demo-app',
      clientSecret: 'demo-app-secret',
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      logger: recordingLogger(),
    });
    const api = express();
    api.get('/groups', async (_req, res) => {
      res.json(await identity.getUserGroups('jdoe'));
    });
    api.use(cernSsoErrorHandler());
    const server = await listen(api);
    try {
      emulator.faults.set(API_TOKEN_PATH, { status: 429, retryAfterSec: 9, times: 1 });
      const res = await fetch(`${server.url}/groups`, { headers: JSON_ACCEPT });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('9');
      expect(await res.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    } finally {
      await server.close();
      await identity.close();
    }
  });
});

describe('Keycloak unreachable', () => {
  it('at the code exchange: 503, and the log names ECONNREFUSED and the token endpoint URL', async () => {
    const app = await newApp();
    const steps = loginSteps(
      () => emulator,
      () => app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    await emulator.suspend();
    try {
      const res = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(app.logger.lines('warn').join('\n')).toContain(
        `sign-in callback failed: Error ECONNREFUSED: ${emulator.issuer}/protocol/openid-connect/token: ECONNREFUSED (code=ERR_UPSTREAM_UNAVAILABLE url=${emulator.issuer}/protocol/openid-connect/token)`,
      );
    } finally {
      await emulator.resume();
    }
  });
});

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
