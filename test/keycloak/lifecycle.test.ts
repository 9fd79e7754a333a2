/**
 * The login lifecycle of issue 12 against real Keycloak: silent login with a Keycloak session,
 * claims refreshed through the refresh token after `claimsTtlMs` (a role granted or taken away
 * in Keycloak reaches `requireRole`), and a Keycloak session ended by an administrator signing
 * the user out at the next claims refresh, a step-up (`requireAuth({ maxAgeSec })`) through
 * Keycloak's `max_age` and `prompt=login`, and the `acr` Keycloak puts in ID tokens. Its own client (`cern-app-lifecycle`, whose roles
 * are `cern_roles`) and user (`lifecycle1`), so no other Keycloak test is disturbed.
 *
 * Time: the app's clock is Keycloak's plus an offset the test moves; never a real wait.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CernUser } from 'express-cern-sso';
import { TestBrowser } from '../helpers/browser.js';
import {
  APP_HOST,
  RealmAdmin,
  SESSION_COOKIE,
  loginFormAction,
  startFlowApp,
  startLogin,
  submitLogin,
  type FlowApp,
} from './flow-app.js';

const keycloak = inject('keycloak');

const CLIENT = 'cern-app-lifecycle';
const USER = 'lifecycle1';
const CLAIMS_TTL_MS = 60_000;
const JSON_ACCEPT = { accept: 'application/json' };

describe.skipIf(!keycloak)(`login lifecycle with Keycloak ${keycloak?.version ?? ''}`, () => {
  const kc = keycloak!;
  const admin = new RealmAdmin(kc, 'cern');
  let app: FlowApp;
  let offsetMs = 0;

  /** Grants (or takes away) `role` of the app's client to the user, in Keycloak. */
  async function setClientRole(role: string, granted: boolean): Promise<void> {
    const [client] = (await admin.call('GET', `/cern/clients?clientId=${CLIENT}`)) as { id: string }[];
    const [user] = (await admin.call('GET', `/cern/users?exact=true&username=${USER}`)) as { id: string }[];
    const definition = (await admin.call('GET', `/cern/clients/${client!.id}/roles/${role}`)) as object;
    await admin.call(
      granted ? 'POST' : 'DELETE',
      `/cern/users/${user!.id}/role-mappings/clients/${client!.id}`,
      [definition],
    );
  }

  /** Signs the user in through Keycloak's login form; resolves to the browser (app + Keycloak cookies). */
  async function signIn(browser = new TestBrowser()): Promise<TestBrowser> {
    const authorize = await startLogin(browser, app, '?returnTo=%2Fme');
    const callback = await submitLogin(
      browser,
      loginFormAction(await browser.navigate(authorize.href)),
      USER,
    );
    const landed = await browser.request(callback.href);
    await landed.arrayBuffer();
    expect(landed.status).toBe(302);
    expect(landed.headers.get('location')).toBe('/me');
    return browser;
  }

  async function get(browser: TestBrowser, path: string): Promise<{ status: number; body: unknown }> {
    const response = await browser.request(`${app.url}${path}`, { headers: JSON_ACCEPT });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  beforeAll(async () => {
    app = await startFlowApp({
      issuer: kc.issuer,
      clientId: CLIENT,
      sso: { clock: { now: () => Date.now() + offsetMs }, claimsTtlMs: CLAIMS_TTL_MS },
    });
    await admin.registerCallbacks(CLIENT, [app]);
  });

  afterAll(async () => {
    await app.close();
    await setClientRole('admin', false).catch(() => undefined);
  });

  it('silent login with a Keycloak session: /login?prompt=none signs in without a page and returns to returnTo', async () => {
    const browser = await signIn();
    // A new app session for the same browser: only Keycloak's SSO cookies are left.
    browser.cookies.get(APP_HOST)?.delete(SESSION_COOKIE);
    expect((await get(browser, '/x')).body).toEqual({ user: null });

    const authorize = await startLogin(browser, app, '?prompt=none&returnTo=%2Fx');
    const answer = await browser.request(authorize.href);
    await answer.arrayBuffer();
    expect(answer.status).toBe(302); // no login page
    const callback = new URL(answer.headers.get('location') ?? '');
    expect(callback.searchParams.get('code')).not.toBeNull();
    const landed = await browser.request(callback.href);
    await landed.arrayBuffer();
    expect(landed.headers.get('location')).toBe('/x');
    const page = (await get(browser, '/x')).body as { user: CernUser };
    expect(page.user).toMatchObject({ login: USER, issuer: kc.issuer });
    // Keycloak's acr without an ACR-to-LoA mapping: "0" for a reused SSO session (the emulator
    // does the same; the README's step-up recipe says so).
    const me = (await get(browser, '/me')).body as { claims: Record<string, unknown> };
    expect(me.claims.acr).toBe('0');
  });

  it('step-up: past maxAgeSec Keycloak asks for the password again (max_age, prompt=login) and the page passes; JSON gets the RFC 9470 401', async () => {
    offsetMs = 0;
    const browser = await signIn();
    const first = (await get(browser, '/recent')).body as { claims: Record<string, unknown> };
    expect(first.claims.acr).toBe('1'); // authenticated with the form in this login

    offsetMs = 120_000; // the sign-in is now two minutes old for the app
    const api = await browser.request(`${app.url}/recent`, { headers: JSON_ACCEPT });
    expect(api.status).toBe(401);
    expect(api.headers.get('www-authenticate')).toContain('error="insufficient_user_authentication"');
    expect(api.headers.get('www-authenticate')).toContain('max_age="60"');
    await api.arrayBuffer();

    const stale = await browser.request(`${app.url}/recent`);
    await stale.arrayBuffer();
    expect(stale.status).toBe(302);
    const login = new URL(stale.headers.get('location') ?? '', app.url);
    expect(login.searchParams.get('max_age')).toBe('60');
    expect(login.searchParams.get('prompt')).toBe('login');

    offsetMs = 0; // the new login happens now, for Keycloak and the app alike
    const authorize = await browser.request(`${app.url}${login.pathname}${login.search}`);
    await authorize.arrayBuffer();
    const authorizeUrl = new URL(authorize.headers.get('location') ?? '');
    expect(authorizeUrl.searchParams.get('max_age')).toBe('60');
    expect(authorizeUrl.searchParams.get('prompt')).toBe('login');
    // Keycloak shows its login form although its SSO session is alive: prompt=login.
    const callback = await submitLogin(
      browser,
      loginFormAction(await browser.navigate(authorizeUrl.href)),
      USER,
    );
    const landed = await browser.request(callback.href);
    await landed.arrayBuffer();
    expect(landed.headers.get('location')).toBe('/recent');
    const passed = await get(browser, '/recent');
    expect(passed.status).toBe(200);
    const claims = (passed.body as { claims: Record<string, unknown> }).claims;
    expect(claims.auth_time).toBeGreaterThanOrEqual(first.claims.auth_time as number);
  });

  it('a role granted and taken away in Keycloak reaches requireRole after claimsTtlMs, not before', async () => {
    offsetMs = 0;
    const browser = await signIn();
    expect((await get(browser, '/admin')).status).toBe(403);

    await setClientRole('admin', true);
    // Within claimsTtlMs the claims of the login are used.
    offsetMs = CLAIMS_TTL_MS - 5_000;
    expect((await get(browser, '/admin')).status).toBe(403);
    // Past it, the next request refreshes the tokens: Keycloak's new ID token has the role.
    offsetMs = CLAIMS_TTL_MS + 1_000;
    const granted = await get(browser, '/admin');
    expect(granted.status).toBe(200);
    expect((granted.body as { user: CernUser }).user.roles).toContain('admin');

    await setClientRole('admin', false);
    offsetMs = 2 * CLAIMS_TTL_MS + 2_000;
    expect((await get(browser, '/admin')).status).toBe(403);
    expect((await get(browser, '/me')).status).toBe(200); // still signed in
    offsetMs = 0;
  });

  it('the Keycloak session ended by an administrator signs the user out at the next claims refresh', async () => {
    offsetMs = 0;
    const browser = await signIn();
    expect((await get(browser, '/me')).status).toBe(200);
    await admin.logoutUser(USER);
    // Until the claims are due, the app does not ask Keycloak.
    expect((await get(browser, '/me')).status).toBe(200);
    offsetMs = CLAIMS_TTL_MS + 1_000;
    // Keycloak answers the refresh with invalid_grant: signed out, the guard answers 401.
    expect((await get(browser, '/me')).status).toBe(401);
    expect((await get(browser, '/x')).body).toEqual({ user: null });
    offsetMs = 0;
  });
});
