/**
 * Flows against real Keycloak (started once for the run by `global-setup.ts`) that the
 * conformance tests do not cover: real Chromium on Keycloak's login page, parallel tabs,
 * introspection, `prompt=none` without a Keycloak session, Keycloak down at start and back, and
 * the Keycloak error responses and pages the library can meet.
 *
 * These tests use their own clients (`cern-app-flows`, `cern-app-unregistered`) and users
 * (`flows1`, `flows2`), so the conformance tests running beside them (which re-register
 * `cern-app` and end `guest1`'s sessions) never disturb them.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { bearerAuth, type CernUser } from 'express-cern-sso';
import { recordingLogger } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { launchChromium, skipWithoutChromium, type ChromiumHandle } from '../helpers/chromium.js';
import {
  APP_HOST,
  RealmAdmin,
  SESSION_COOKIE,
  isKeycloakLoginPage,
  loginFormAction,
  loginUpToCallback,
  secretOf,
  startFlowApp,
  startLogin,
  storeSize,
  storedAccessToken,
  submitLogin,
  type FlowApp,
} from './flow-app.js';
import { startTcpProxy } from './tcp-proxy.js';

const keycloak = inject('keycloak');

const CLIENT = 'cern-app-flows';
const API_AUDIENCE = 'cern-api';
const JSON_ACCEPT = { accept: 'application/json' };
/** The library's answer to a misconfiguration, the same as against the emulator. */
const MISCONFIGURED = {
  error: 'server_error',
  error_description: 'Sign-in is misconfigured for this application; please tell its administrators.',
  code: 'ERR_IDP_MISCONFIGURED',
};

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** A token request with client_secret_basic; resolves to Keycloak's status and JSON body. */
async function tokenRequest(
  issuer: string,
  clientId: string,
  clientSecret: string,
  parameters: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: new URLSearchParams(parameters),
  });
  return { status: response.status, body: await json(response) };
}

/** An API protected by `bearerAuth()` with introspection of every token at Keycloak. */
async function startIntrospectingApi(issuer: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(
    bearerAuth({
      issuer,
      audience: API_AUDIENCE,
      introspect: 'always',
      clientId: API_AUDIENCE,
      clientSecret: secretOf(API_AUDIENCE),
      logger: recordingLogger(),
    }),
  );
  app.get('/api/whoami', (req, res) => {
    res.json({ user: req.sso.user });
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => {
      resolve(listening);
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe.skipIf(!keycloak)(`flows with Keycloak ${keycloak?.version ?? ''}`, () => {
  const kc = keycloak!;
  const admin = new RealmAdmin(kc, 'cern');
  let app: FlowApp;
  let wrongSecretApp: FlowApp; // the same client, configured with a wrong secret
  let unregisteredApp: FlowApp; // a client whose registration lacks this app's callback

  beforeAll(async () => {
    [app, wrongSecretApp, unregisteredApp] = await Promise.all([
      startFlowApp({ issuer: kc.issuer, clientId: CLIENT }),
      startFlowApp({ issuer: kc.issuer, clientId: CLIENT, clientSecret: 'not-the-secret-0123456789' }),
      startFlowApp({ issuer: kc.issuer, clientId: 'cern-app-unregistered' }),
    ]);
    await admin.registerCallbacks(CLIENT, [app, wrongSecretApp]);
  });

  afterAll(async () => {
    const started: (FlowApp | undefined)[] = [app, wrongSecretApp, unregisteredApp];
    await Promise.all(started.map((server) => (server ? server.close() : Promise.resolve())));
  });

  describe.skipIf(skipWithoutChromium())('in Chromium', () => {
    let chromium: ChromiumHandle | undefined;
    beforeAll(async () => {
      chromium = await launchChromium();
    });
    afterAll(async () => {
      await chromium?.close();
    });

    it("signs in on Keycloak's real login page, lands on the app signed in, and logs out", async () => {
      const context: BrowserContext = await chromium!.browser.newContext();
      context.setDefaultTimeout(15_000);
      try {
        const page = await context.newPage();
        await page.goto(`${app.url}/login?returnTo=%2Fme`);
        // Keycloak's own login page (its theme, its origin).
        await page.locator('form#kc-form-login').waitFor();
        expect(page.url().startsWith(`${kc.issuer}/protocol/openid-connect/auth?`)).toBe(true);
        await page.fill('input[name="username"]', 'flows1');
        await page.fill('input[name="password"]', 'flows1-password');
        await page.locator('#kc-login').click();

        await page.waitForURL(`${app.url}/me`);
        const me = JSON.parse(await page.locator('body').innerText()) as { user: CernUser };
        expect(me.user).toMatchObject({ login: 'flows1', issuer: kc.issuer, personId: 700001 });

        // Logout: the app, then Keycloak's end-session endpoint, back to the app's home page.
        await page.goto(`${app.url}/logout`);
        await page.waitForURL(`${app.url}/`);
        expect(await page.locator('body').innerText()).toBe('home');
        // Signed out of the app (requireAuth sends the browser to /login) and of Keycloak (its
        // login form again, not a silent sign-in back to /me).
        await page.goto(`${app.url}/me`);
        await page.locator('form#kc-form-login').waitFor();
        expect(page.url().startsWith(`${kc.issuer}/protocol/openid-connect/auth?`)).toBe(true);
      } finally {
        await context.close();
      }
    });
  });

  it('parallel tabs: two logins started in one browser complete in reverse order, both signed in', async () => {
    const browser = new TestBrowser();
    const authorizeA = await startLogin(browser, app, '?returnTo=%2Fx%3Ftab%3Da');
    const authorizeB = await startLogin(browser, app, '?returnTo=%2Fx%3Ftab%3Db');
    expect(authorizeA.searchParams.get('state')).not.toBe(authorizeB.searchParams.get('state'));
    // Both tabs show Keycloak's login form (one Keycloak authentication session, two tabs).
    const pageA = await browser.navigate(authorizeA.href);
    const pageB = await browser.navigate(authorizeB.href);
    const actionA = loginFormAction(pageA);
    const actionB = loginFormAction(pageB);

    // Tab B first, at Keycloak and at the app.
    const callbackB = await submitLogin(browser, actionB, 'flows1');
    expect(callbackB.searchParams.get('state')).toBe(authorizeB.searchParams.get('state'));
    const finalB = await browser.navigate(callbackB.href, { headers: JSON_ACCEPT });
    expect(finalB.url).toBe(`${app.url}/x?tab=b`);
    expect((JSON.parse(finalB.body) as { user: CernUser }).user.login).toBe('flows1');

    // Then tab A: its form, posted after B signed in, completes for A's state.
    const callbackA = await submitLogin(browser, actionA, 'flows1');
    expect(callbackA.searchParams.get('state')).toBe(authorizeA.searchParams.get('state'));
    const finalA = await browser.navigate(callbackA.href, { headers: JSON_ACCEPT });
    expect(finalA.url).toBe(`${app.url}/x?tab=a`);
    expect((JSON.parse(finalA.body) as { user: CernUser }).user.login).toBe('flows1');

    const me = await browser.request(`${app.url}/me`, { headers: JSON_ACCEPT });
    expect(me.status).toBe(200);
    await me.arrayBuffer();
    expect(app.logger.error).not.toHaveBeenCalled();
  });

  it('introspection: bearerAuth accepts a live Keycloak access token, a fresh instance refuses it once the sessions are ended or the token revoked', async () => {
    const apis = [await startIntrospectingApi(kc.issuer)];
    const freshApi = async () => {
      const api = await startIntrospectingApi(kc.issuer);
      apis.push(api);
      return api;
    };
    const call = (api: { url: string }, token: string): Promise<Response> =>
      fetch(`${api.url}/api/whoami`, { headers: { authorization: `Bearer ${token}`, ...JSON_ACCEPT } });
    try {
      // Sessions ended by the admin API.
      const browser = new TestBrowser();
      await browser.navigate((await loginUpToCallback(browser, app, 'flows2')).href);
      const token = await storedAccessToken(app, browser);
      const accepted = await call(apis[0]!, token);
      expect(accepted.status).toBe(200);
      expect(((await json(accepted)).user as CernUser).login).toBe('flows2');

      await admin.logoutUser('flows2');
      const refused = await call(await freshApi(), token);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      await refused.arrayBuffer();
      // The first instance cached its answer until exp (documented: revocation is seen on a
      // token's first check only).
      expect((await call(apis[0]!, token)).status).toBe(200);

      // A token revoked at Keycloak's revocation endpoint by the client it was issued to.
      const again = new TestBrowser();
      await again.navigate((await loginUpToCallback(again, app, 'flows2')).href);
      const second = await storedAccessToken(app, again);
      expect((await call(await freshApi(), second)).status).toBe(200);
      const revoked = await fetch(`${kc.issuer}/protocol/openid-connect/revoke`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT}:${secretOf(CLIENT)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: second, token_type_hint: 'access_token' }),
      });
      expect(revoked.status).toBe(200);
      const afterRevoke = await call(await freshApi(), second);
      expect(afterRevoke.status).toBe(401);
      expect(afterRevoke.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await Promise.all(apis.map((api) => api.close()));
    }
  });

  it('prompt=none without a Keycloak session: Keycloak answers login_required, the library returns anonymous to returnTo and creates no session', async () => {
    const browser = new TestBrowser();
    const sessionsBefore = await storeSize(app.store);
    const authorize = await startLogin(browser, app, '?prompt=none&returnTo=%2Fx');
    expect(authorize.searchParams.get('prompt')).toBe('none');
    const answer = await browser.request(authorize.href);
    await answer.arrayBuffer();
    expect(answer.status).toBe(302);
    const callback = new URL(answer.headers.get('location') ?? '');
    expect(callback.origin + callback.pathname).toBe(`${app.url}/oidc/callback`);
    expect(callback.searchParams.get('error')).toBe('login_required');
    expect(callback.searchParams.get('state')).toBe(authorize.searchParams.get('state'));
    expect(callback.searchParams.get('iss')).toBe(kc.issuer);

    // A silent login that Keycloak cannot complete: back at returnTo, anonymous, no error page.
    const page = await browser.request(callback.href);
    await page.arrayBuffer();
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/x');
    expect(browser.cookie(APP_HOST, SESSION_COOKIE)).toBeUndefined();
    expect(await storeSize(app.store)).toBe(sessionsBefore);
  });

  it('Keycloak down at start: the app starts, /login answers 503 with Retry-After, and works once Keycloak is reachable again', async () => {
    // A copy of the realm whose frontend URL (issuer and every published URL) is a proxy in
    // front of Keycloak: refusing connections there is Keycloak being down for the app.
    const kcPort = Number(new URL(kc.baseUrl).port);
    const proxy = await startTcpProxy(kcPort);
    const realm = new RealmAdmin(kc, `cern-down-${process.pid}`);
    const issuer = await realm.createCopyOfCern(`http://127.0.0.1:${proxy.port}/auth`);
    let downApp: FlowApp | undefined;
    // Drive the clock of the library's rediscovery bound instead of sleeping through it.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      await proxy.refuse();
      downApp = await startFlowApp({ issuer, clientId: CLIENT });
      await realm.registerCallbacks(CLIENT, [downApp]);

      const browser = new TestBrowser();
      const unavailable = await browser.request(`${downApp.url}/login`, { headers: JSON_ACCEPT });
      expect(unavailable.status).toBe(503);
      const retryAfter = Number(unavailable.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(5);
      expect(await json(unavailable)).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
      const page = await browser.request(`${downApp.url}/login`);
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toBeTruthy();
      expect(await page.text()).toMatch(/temporarily unavailable/i);

      // Keycloak reachable again: within the retry delay no new attempt is made (still 503)...
      await proxy.accept();
      const connections = proxy.connections;
      const early = await browser.request(`${downApp.url}/login`, { headers: JSON_ACCEPT });
      expect(early.status).toBe(503);
      await early.arrayBuffer();
      expect(proxy.connections).toBe(connections);
      // ...and once it has passed, /login redirects to Keycloak (through the proxy) and works.
      vi.setSystemTime(Date.now() + retryAfter * 1000);
      const authorize = await startLogin(browser, downApp, '?returnTo=%2Fme');
      expect(authorize.origin + authorize.pathname).toBe(`${issuer}/protocol/openid-connect/auth`);
      const form = await browser.navigate(authorize.href);
      const callback = await submitLogin(browser, loginFormAction(form), 'flows1');
      const me = await browser.navigate(callback.href, { headers: JSON_ACCEPT });
      expect(me.url).toBe(`${downApp.url}/me`);
      expect(me.status).toBe(200);
      expect((JSON.parse(me.body) as { user: CernUser }).user).toMatchObject({ login: 'flows1', issuer });
    } finally {
      vi.useRealTimers();
      await downApp?.close();
      await proxy.close();
      await realm.deleteRealm();
    }
  });

  describe('Keycloak error responses', () => {
    it('wrong client secret at the code exchange: Keycloak refuses the client (401 unauthorized_client), the library answers 500 ERR_IDP_MISCONFIGURED and logs what to fix', async () => {
      const browser = new TestBrowser();
      const callback = await loginUpToCallback(browser, wrongSecretApp, 'flows1');
      expect(callback.searchParams.get('code')).toBeTruthy();
      const answer = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(answer.status).toBe(500);
      expect(answer.headers.get('retry-after')).toBeNull();
      // The same answer as against the emulator (test/e2e/misconfigured-client.test.ts).
      expect(await json(answer)).toEqual(MISCONFIGURED);
      const lines = wrongSecretApp.logger.lines('error');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^sign-in is misconfigured: /);
      expect(lines[0]).toContain(
        `code=ERR_IDP_MISCONFIGURED url=${kc.issuer}/protocol/openid-connect/token option=clientSecret problem=`,
      );
      expect(lines[0]).toContain(
        `(${kc.issuer}/protocol/openid-connect/token) refused the client credentials (HTTP 401 unauthorized_client`,
      );
      expect(wrongSecretApp.logger.text()).not.toContain('not-the-secret-0123456789');
      // What Keycloak itself answers to that client authentication at the token endpoint.
      const raw = await tokenRequest(kc.issuer, CLIENT, 'not-the-secret-0123456789', {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code') ?? '',
        redirect_uri: `${wrongSecretApp.url}/oidc/callback`,
      });
      expect(raw).toMatchObject({ status: 401, body: { error: 'unauthorized_client' } });
      expect(browser.cookie(APP_HOST, SESSION_COOKIE)).toBeUndefined();
    });

    it('an authorization code used twice: Keycloak answers invalid_grant, the library a 400 saying the code was already used', async () => {
      const browser = new TestBrowser();
      const callback = await loginUpToCallback(browser, app, 'flows1');
      // A second copy of the browser as it was before the callback (same pending-login cookies),
      // so the replay passes the library's own single-use check and reaches Keycloak.
      const copy = new TestBrowser();
      for (const [host, jar] of browser.cookies) copy.cookies.set(host, new Map(jar));

      const first = await browser.navigate(callback.href, { headers: JSON_ACCEPT });
      expect(first.url).toBe(`${app.url}/me`);
      expect(first.status).toBe(200);

      // The same browser again: the pending login was single-use (cleared at the first callback).
      const sameBrowser = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(sameBrowser.status).toBe(400);
      expect((await json(sameBrowser)).code).toBe('ERR_LOGIN_STATE');

      const replay = await copy.request(callback.href, { headers: JSON_ACCEPT });
      const body = await json(replay);
      expect({ status: replay.status, code: body.code }).toEqual({
        status: 400,
        code: 'ERR_LOGIN_FAILED',
      });
      expect(body.error_description).toBe(
        'Sign-in failed: the authorization code or token is invalid, expired or was already used.',
      );
      expect(copy.cookie(APP_HOST, SESSION_COOKIE)).toBeUndefined();
      // What Keycloak itself answers to the used code.
      const raw = await tokenRequest(kc.issuer, CLIENT, secretOf(CLIENT), {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code') ?? '',
        redirect_uri: `${app.url}/oidc/callback`,
      });
      expect(raw).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });

    it('a redirect URI Keycloak does not know: Keycloak would show its own 400 page, so /login answers 500 ERR_IDP_MISCONFIGURED and logs the URI to register', async () => {
      const callbackUrl = `${unregisteredApp.url}/oidc/callback`;
      const answer = await new TestBrowser().request(`${unregisteredApp.url}/login`, {
        headers: JSON_ACCEPT,
      });
      expect(answer.status).toBe(500);
      expect(await json(answer)).toEqual(MISCONFIGURED);
      const lines = unregisteredApp.logger.lines('error');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^sign-in is misconfigured \(code=ERR_IDP_MISCONFIGURED .* option=baseUrl problem=/,
      );
      expect(lines[0]).toContain(`refuses the redirect URI ${callbackUrl}`);
      expect(lines[0]).toContain(`register exactly ${callbackUrl}`);
      // What Keycloak itself shows for that authorization request: its own page, no redirect.
      const authorize = new URL(`${kc.issuer}/protocol/openid-connect/auth`);
      authorize.search = new URLSearchParams({
        client_id: 'cern-app-unregistered',
        redirect_uri: callbackUrl,
        response_type: 'code',
        scope: 'openid',
      }).toString();
      const page = await new TestBrowser().navigate(authorize.href);
      expect(page.hops).toHaveLength(1);
      expect(page.headers.get('location')).toBeNull();
      expect(page.status).toBe(400);
      expect(page.body).toContain('Invalid parameter: redirect_uri');
      expect(isKeycloakLoginPage(page)).toBe(false);
    });

    it('a client Keycloak does not know: "Client not found", /login answers 500 ERR_IDP_MISCONFIGURED naming clientId', async () => {
      const unknown = await startFlowApp({ issuer: kc.issuer, clientId: 'cern-app-no-such-client' });
      try {
        const answer = await new TestBrowser().request(`${unknown.url}/login`, { headers: JSON_ACCEPT });
        expect(answer.status).toBe(500);
        expect(await json(answer)).toEqual(MISCONFIGURED);
        expect(unknown.logger.lines('error')).toEqual([
          expect.stringMatching(
            /^sign-in is misconfigured \(.* option=clientId problem=.*"cern-app-no-such-client".*Client not found/,
          ),
        ]);
      } finally {
        await unknown.close();
      }
    });
  });
});
