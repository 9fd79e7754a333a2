/**
 * `onEvent`: every audit event through real HTTP (app + emulator), each asserted as the exact
 * object (a frozen clock gives `at`), a listener that throws or rejects never breaks a request,
 * and no event ever carries a token, code, state, cookie or upstream text.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import {
  bearerAuth,
  cernSso,
  cernSsoErrorHandler,
  loginDenied,
  requireGroup,
  requireRole,
  type CernSsoError,
  type CernSsoEvent,
  type CernSsoOptions,
  type OnEvent,
} from 'express-cern-sso';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { loginSteps } from '../helpers/login-steps.js';

const TOKEN_PATH = '/auth/realms/cern/protocol/openid-connect/token';
const JSON_ACCEPT = { accept: 'application/json' };
const MINUTE = 60_000;

let emulator: CernSsoEmulator;
let counter = 0;
const apps: TestApp[] = [];
/** Every event of every scenario, and every secret seen on the way: scanned at the end. */
const allEvents: CernSsoEvent[] = [];
const secrets = new Set<string>();

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterEach(async () => {
  emulator.faults.clear();
  emulator.setAutoLogin(false);
  await Promise.all(apps.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  await emulator.close();
});

/** Each value of a `Cookie` header, and the header itself, as secrets. */
function rememberCookie(cookie: string): void {
  secrets.add(cookie);
  for (const pair of cookie.split(';')) {
    const value = pair.slice(pair.indexOf('=') + 1).trim();
    if (value.length >= 8) secrets.add(value);
  }
}

/** An app whose events are recorded, on a clock that only moves when told to. */
async function start(sso: Partial<CernSsoOptions> = {}, listener?: OnEvent) {
  let now = Date.now();
  const clock = { now: () => now };
  const events: CernSsoEvent[] = [];
  const clientId = `events-${String(++counter)}`;
  const app = await startTestApp(emulator, {
    clientId,
    sso: {
      clock,
      onEvent:
        listener ??
        ((event) => {
          events.push(event);
          allEvents.push(event);
        }),
      ...sso,
    },
    routes: (routes) => {
      routes.use(cernSsoErrorHandler());
    },
  });
  apps.push(app);
  const at = () => new Date(now).toISOString();
  const signIn = async (login: string) => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login });
    rememberCookie(cookie);
    const get = (path: string, init: RequestInit = {}) =>
      fetch(`${app.baseUrl}${path}`, { ...init, headers: { cookie, ...JSON_ACCEPT } });
    return { cookie, get };
  };
  return {
    app,
    clientId,
    events,
    at,
    signIn,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('onEvent: one event per happening, exactly', () => {
  it('login: after the session is saved, with the user and the callback path', async () => {
    const t = await start();
    await t.signIn('jdoe');
    expect(t.events).toEqual([
      { type: 'login', at: t.at(), login: 'jdoe', issuer: emulator.issuer, path: '/oidc/callback' },
    ]);
    expect(Object.isFrozen(t.events[0])).toBe(true);
  });

  it('login_failed: the library code, the path without the query (code and state stay out)', async () => {
    const t = await start();
    const code = 'secret-authorization-code-4711';
    const state = 'secret-state-value-0815';
    secrets.add(code).add(state);
    const response = await fetch(`${t.app.baseUrl}/oidc/callback?code=${code}&state=${state}`, {
      headers: JSON_ACCEPT,
    });
    expect(response.status).toBe(400);
    expect(t.events).toEqual([
      { type: 'login_failed', at: t.at(), path: '/oidc/callback', reason: 'ERR_LOGIN_STATE' },
    ]);
  });

  it('login_denied: onLogin refused the user (with the login); login_failed when it threw something else', async () => {
    const t = await start({
      onLogin: ({ user }) => {
        if (user.login === 'mmartin') throw loginDenied('Not for you.');
        if (user.login === 'lnguyen') throw new Error('database down');
      },
    });
    const steps = loginSteps(
      () => emulator,
      () => t.app.baseUrl,
    );
    for (const login of ['mmartin', 'lnguyen']) {
      const browser = new TestBrowser();
      const callback = await steps.authorizeAs(login, await steps.startLogin(browser));
      secrets.add(callback.searchParams.get('code') ?? '');
      const landed = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(landed.status).toBe(login === 'mmartin' ? 403 : 500);
    }
    expect(t.events).toEqual([
      {
        type: 'login_denied',
        at: t.at(),
        login: 'mmartin',
        issuer: emulator.issuer,
        path: '/oidc/callback',
        reason: 'ERR_LOGIN_DENIED',
      },
      {
        type: 'login_failed',
        at: t.at(),
        login: 'lnguyen',
        issuer: emulator.issuer,
        path: '/oidc/callback',
        reason: 'ERR_LOGIN_FAILED',
      },
    ]);
  });

  it('logout: with the login of the user who signed out; anonymous logout without one', async () => {
    const t = await start({ idpLogout: false });
    const user = await t.signIn('jdoe');
    t.events.length = 0;
    expect((await user.get('/logout', { redirect: 'manual' })).status).toBe(302);
    expect((await fetch(`${t.app.baseUrl}/logout`, { redirect: 'manual' })).status).toBe(302);
    expect(t.events).toEqual([
      { type: 'logout', at: t.at(), login: 'jdoe', issuer: emulator.issuer, path: '/logout' },
      { type: 'logout', at: t.at(), path: '/logout' },
    ]);
  });

  it('backchannel_logout: when Keycloak posts it (no login); session_expired with the login when the session is next used', async () => {
    const t = await start();
    const client = emulator.clients.get(t.clientId);
    if (!client) throw new Error('client not registered');
    emulator.registerClient({ ...client, backchannelLogoutUri: `${t.app.baseUrl}/oidc/backchannel-logout` });
    const user = await t.signIn('admin1');
    t.events.length = 0;
    await emulator.endSsoSessions('admin1');
    expect(t.events).toEqual([
      { type: 'backchannel_logout', at: t.at(), path: '/oidc/backchannel-logout', reason: 'session' },
    ]);
    expect((await user.get('/api/me')).status).toBe(401);
    expect(t.events.slice(1)).toEqual([
      {
        type: 'session_expired',
        at: t.at(),
        login: 'admin1',
        issuer: emulator.issuer,
        path: '/api/me',
        reason: 'backchannelLogout',
      },
      // The guard then refused the (now anonymous) request.
      { type: 'access_denied', at: t.at(), path: '/api/me', reason: 'auth' },
    ]);
  });

  it('access_denied: anonymous (reason auth, browsers sent to the login too) and each guard requirement', async () => {
    const t = await start();
    expect(
      (await fetch(`${t.app.baseUrl}/api/me?access_token=secret-in-query`, { headers: JSON_ACCEPT })).status,
    ).toBe(401);
    secrets.add('secret-in-query');
    const page = await fetch(`${t.app.baseUrl}/profile`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(page.status).toBe(302);
    const user = await t.signIn('jdoe');
    t.events.splice(2);
    expect((await user.get('/admin')).status).toBe(403);
    expect((await user.get('/it-admins')).status).toBe(403);
    const who = { login: 'jdoe', issuer: emulator.issuer };
    expect(t.events).toEqual([
      { type: 'access_denied', at: t.at(), path: '/api/me', reason: 'auth' },
      { type: 'access_denied', at: t.at(), path: '/profile', reason: 'auth' },
      { type: 'access_denied', at: t.at(), ...who, path: '/admin', reason: 'role:admin' },
      { type: 'access_denied', at: t.at(), ...who, path: '/it-admins', reason: 'group:IT-DEP-ADMINS' },
    ]);
  });

  it('session_expired: absoluteTimeout and idleTimeout, with the login', async () => {
    const absolute = await start({ absoluteTimeoutMs: 20 * MINUTE, claimsTtlMs: 60 * MINUTE });
    const first = await absolute.signIn('jdoe');
    absolute.events.length = 0;
    absolute.advance(20 * MINUTE);
    expect((await first.get('/')).status).toBe(200);
    const idle = await start({ idleTimeoutMs: 10 * MINUTE, claimsTtlMs: 60 * MINUTE });
    const second = await idle.signIn('mmartin');
    idle.events.length = 0;
    idle.advance(10 * MINUTE);
    expect((await second.get('/')).status).toBe(200);
    const expired = (t: typeof absolute, login: string, reason: string) => ({
      type: 'session_expired',
      at: t.at(),
      login,
      issuer: emulator.issuer,
      path: '/',
      reason,
    });
    expect(absolute.events).toEqual([expired(absolute, 'jdoe', 'absoluteTimeout')]);
    expect(idle.events).toEqual([expired(idle, 'mmartin', 'idleTimeout')]);
  });

  it('session_expired: the Keycloak session ended, seen at the claims refresh (idpSessionEnded)', async () => {
    const t = await start({ claimsTtlMs: MINUTE });
    const user = await t.signIn('lnguyen');
    t.events.length = 0;
    await emulator.endSsoSessions('lnguyen');
    t.advance(MINUTE);
    expect((await user.get('/')).status).toBe(200);
    expect(t.events).toEqual([
      {
        type: 'session_expired',
        at: t.at(),
        login: 'lnguyen',
        issuer: emulator.issuer,
        path: '/',
        reason: 'idpSessionEnded',
      },
    ]);
  });

  it('refresh_failed (claims refresh and access token refresh) and upstream_unavailable: Keycloak down', async () => {
    const t = await start({ claimsTtlMs: MINUTE });
    const user = await t.signIn('jdoe');
    t.events.length = 0;
    emulator.faults.set(TOKEN_PATH, { status: 503 });
    t.advance(MINUTE);
    // The claims refresh fails: the page works on with the old claims.
    expect((await user.get('/')).status).toBe(200);
    // An hour later the access token is expired too: its refresh fails, the route answers 503.
    t.advance(60 * MINUTE);
    const token = await user.get('/api/token-info');
    expect(token.status).toBe(503);
    const who = { login: 'jdoe', issuer: emulator.issuer };
    const failed = { type: 'refresh_failed', ...who, reason: 'ERR_UPSTREAM_UNAVAILABLE' };
    expect(t.events).toEqual([
      { ...failed, at: new Date(Date.parse(t.at()) - 60 * MINUTE).toISOString(), path: '/' },
      // The claims refresh of this request (its retry minute is over), then the token's.
      { ...failed, at: t.at(), path: '/api/token-info' },
      { ...failed, at: t.at(), path: '/api/token-info' },
      {
        type: 'upstream_unavailable',
        at: t.at(),
        ...who,
        path: '/api/token-info',
        reason: 'identityProvider',
      },
    ]);
  });

  it('a callback failing on an outage: login_failed and upstream_unavailable', async () => {
    const t = await start();
    const steps = loginSteps(
      () => emulator,
      () => t.app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    secrets.add(callback.searchParams.get('code') ?? '');
    emulator.faults.set(TOKEN_PATH, { status: 503 });
    expect((await browser.request(callback.href, { headers: JSON_ACCEPT })).status).toBe(503);
    expect(t.events).toEqual([
      { type: 'login_failed', at: t.at(), path: '/oidc/callback', reason: 'ERR_UPSTREAM_UNAVAILABLE' },
      { type: 'upstream_unavailable', at: t.at(), path: '/oidc/callback', reason: 'identityProvider' },
    ]);
  });
});

describe('onEvent on bearerAuth()', () => {
  /** An API behind bearerAuth() mounted after cernSso(): `/bearer/admin` needs the role admin. */
  async function withApi(bearerEvents?: CernSsoEvent[]) {
    const t = await start();
    t.app.app.use(
      '/bearer',
      bearerAuth({
        audience: 'events-api',
        ...(bearerEvents ? { onEvent: (event: CernSsoEvent) => void bearerEvents.push(event) } : {}),
      }),
      express
        .Router()
        .get('/admin', requireRole('admin'), (_req, res) => {
          res.json({ ok: true });
        })
        .get('/group', requireGroup('it-dep-admins'), (_req, res) => {
          res.json({ ok: true });
        }),
    );
    return { t, api: `${t.app.baseUrl}/bearer/admin` };
  }

  it("uses the listener of the cernSso() mounted before it: no token, a bad token, a guard's refusal", async () => {
    const { t, api } = await withApi();
    const token = await emulator.issueAccessToken('jdoe', { clientId: t.clientId, audience: 'events-api' });
    secrets.add(token);
    const bad = `${token.slice(0, -4)}AAAA`;
    secrets.add(bad);
    expect((await fetch(api)).status).toBe(401);
    expect((await fetch(api, { headers: { authorization: `Bearer ${bad}` } })).status).toBe(401);
    expect((await fetch(api, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    expect(t.events).toEqual([
      { type: 'access_denied', at: t.at(), path: '/bearer/admin', reason: 'auth' },
      { type: 'access_denied', at: t.at(), path: '/bearer/admin', reason: 'invalid_token' },
      {
        type: 'access_denied',
        at: t.at(),
        login: 'jdoe',
        issuer: emulator.issuer,
        path: '/bearer/admin',
        reason: 'role:admin',
      },
    ]);
  });

  it('its own onEvent replaces the inherited one; the AuthZ API down behind a guard is upstream_unavailable', async () => {
    const own: CernSsoEvent[] = [];
    const { t } = await withApi(own);
    const token = await emulator.issueAccessToken('lnguyen', {
      clientId: t.clientId,
      audience: 'events-api',
    });
    secrets.add(token);
    emulator.faults.set('/api/v1.0/IdentityMembership', { status: 503 });
    const response = await fetch(`${t.app.baseUrl}/bearer/group`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(503);
    expect(own).toEqual([
      {
        type: 'upstream_unavailable',
        at: own[0]?.at,
        login: 'lnguyen',
        issuer: emulator.issuer,
        path: '/bearer/group',
        reason: 'authzApi',
      },
    ]);
    expect(Date.parse(own[0]?.at ?? '')).toBeGreaterThan(0);
    expect(t.events).toEqual([]);
  });
});

describe('a failing listener', () => {
  it('one that throws or rejects never breaks the request: logged as an error with the event type', async () => {
    const thrower = await start({}, () => {
      throw new Error('audit sink down');
    });
    const user = await thrower.signIn('jdoe');
    expect((await user.get('/api/me')).status).toBe(200);
    expect((await user.get('/admin')).status).toBe(403);
    const errors = thrower.app.logger.lines('error').join('\n');
    expect(errors).toMatch(/onEvent listener failed: Error: audit sink down.*event=login/);
    expect(errors).toMatch(/onEvent listener failed: Error: audit sink down.*event=access_denied/);

    const rejecter = await start({}, () => Promise.reject(new Error('queue full')));
    const other = await rejecter.signIn('mmartin');
    expect((await other.get('/admin')).status).toBe(403);
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejecter.app.logger.lines('error').join('\n')).toMatch(
      /onEvent listener failed: Error: queue full.*event=access_denied/,
    );
  });
});

describe('onEvent option', () => {
  it('must be a function: ERR_CONFIG naming onEvent (cernSso and bearerAuth)', () => {
    const problems = (make: () => unknown): string[] => {
      try {
        make();
      } catch (error) {
        expect((error as CernSsoError).code).toBe('ERR_CONFIG');
        return [...(error as CernSsoError).details];
      }
      return [];
    };
    const sso = problems(() =>
      cernSso({
        clientId: 'x',
        clientSecret: 'y',
        baseUrl: 'https://a.web.cern.ch',
        onEvent: 'log' as never,
      }),
    );
    expect(sso.some((problem) => problem.startsWith('onEvent: must be a function'))).toBe(true);
    const bearer = problems(() => bearerAuth({ audience: 'a', onEvent: 42 as never }));
    expect(bearer.some((problem) => problem.startsWith('onEvent: must be a function'))).toBe(true);
  });
});

describe('no secret in any event', () => {
  it('every event of the scenarios above has only the documented fields, none holding a token, code, state or cookie', () => {
    expect(allEvents.length).toBeGreaterThan(20);
    const allowed = new Set(['type', 'at', 'login', 'issuer', 'path', 'reason']);
    for (const event of allEvents) {
      expect(Object.keys(event).every((key) => allowed.has(key))).toBe(true);
      expect(typeof event.at).toBe('string');
      const text = JSON.stringify(event);
      expect(text).not.toMatch(/eyJ|\?/);
      for (const secret of secrets) if (secret !== '') expect(text).not.toContain(secret);
    }
  });
});
