import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cernSso, requireAuth, type CernSso } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';

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

async function me(baseUrl: string, cookie: string): Promise<{ status: number; login: unknown }> {
  const res = await fetch(`${baseUrl}/api/me`, { headers: { cookie }, redirect: 'manual' });
  const body = res.status === 200 ? ((await res.json()) as { user?: { login?: unknown } }) : {};
  return { status: res.status, login: body.user?.login };
}

/** An app mounted under `/app` (baseUrl with a path), its login route at `/signin`. */
async function startPrefixedApp(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const outer = express();
  const inner = express.Router();
  const server: Server = await new Promise((resolve) => {
    const s = outer.listen(0, '127.0.0.1', () => {
      resolve(s);
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}/app`;
  emulator.registerClient({
    clientId: 'prefixed-app',
    clientSecret: 'prefixed-app-secret',
    redirectUris: [`${baseUrl}/oidc/callback`],
  });
  const sso: CernSso = cernSso({
    clientId: 'prefixed-app',
    clientSecret: 'prefixed-app-secret',
    baseUrl,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    routes: { login: '/signin' },
  });
  inner.use(
    session({
      name: 'prefixed.sid',
      secret: 'test-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { path: '/app', httpOnly: true, sameSite: 'lax' },
    }),
  );
  inner.use(sso);
  inner.get('/api/me', requireAuth(), (req, res) => {
    res.json({ user: req.sso.user });
  });
  outer.use('/app', inner);
  return {
    baseUrl,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sso.close();
    },
  };
}

describe('emulator.login()', () => {
  it('resolves to the Cookie header of a signed-in user of the app (fetch)', async () => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login: 'jdoe' });
    expect(cookie).toMatch(/(^|; )app\.sid=/);
    // Only what a browser sends to every page: no pending-login cookies.
    expect(cookie).not.toMatch(/cernsso_login_|cernsso_pending_/);
    expect(await me(app.baseUrl, cookie)).toEqual({ status: 200, login: 'jdoe' });
    expect((await fetch(`${app.baseUrl}/api/me`, { redirect: 'manual' })).status).not.toBe(200);
  });

  it('works with supertest on the app itself', async () => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login: 'admin1' });
    const res = await request(app.app).get('/api/me').set('Cookie', cookie).expect(200);
    expect((res.body as { user: { login: string } }).user.login).toBe('admin1');
    await request(app.app).get('/admin').set('Cookie', cookie).expect(200, 'admin area');
  });

  it('parallel logins of different users each get their own user, and autoLogin is untouched', async () => {
    emulator.setAutoLogin('admin1');
    try {
      const [a, b, c] = await Promise.all([
        emulator.login({ baseUrl: app.baseUrl, login: 'jdoe' }),
        emulator.login({ baseUrl: app.baseUrl, login: 'admin1' }),
        emulator.login({ baseUrl: app.baseUrl, login: 'jdoe' }),
      ]);
      expect(await me(app.baseUrl, a.cookie)).toEqual({ status: 200, login: 'jdoe' });
      expect(await me(app.baseUrl, b.cookie)).toEqual({ status: 200, login: 'admin1' });
      expect(await me(app.baseUrl, c.cookie)).toEqual({ status: 200, login: 'jdoe' });
      expect(new Set([a.cookie, b.cookie, c.cookie]).size).toBe(3);
    } finally {
      emulator.setAutoLogin(false);
    }
  });

  it('ends at returnTo: the callback redirects there', async () => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login: 'jdoe', returnTo: '/profile' });
    const res = await fetch(`${app.baseUrl}/profile`, { headers: { cookie } });
    expect(await res.text()).toBe('profile of John Doe');
  });

  it('an app under a path prefix with a custom login route', async () => {
    const prefixed = await startPrefixedApp();
    try {
      const { cookie } = await emulator.login({
        baseUrl: prefixed.baseUrl,
        login: 'jdoe',
        loginPath: '/signin',
      });
      expect(cookie).toMatch(/(^|; )prefixed\.sid=/);
      expect(await me(prefixed.baseUrl, cookie)).toEqual({ status: 200, login: 'jdoe' });
    } finally {
      await prefixed.close();
    }
  });

  it('rejects an unknown user with a clear message, before touching the app', async () => {
    emulator.requests.reset();
    await expect(emulator.login({ baseUrl: app.baseUrl, login: 'nobody' })).rejects.toThrow(
      /emulator\.login: unknown user "nobody"/,
    );
    expect(emulator.requests.count('/auth')).toBe(0);
  });

  it('rejects with the status and an excerpt of the body when the login route does not redirect', async () => {
    await expect(
      emulator.login({ baseUrl: app.baseUrl, login: 'jdoe', loginPath: '/no-such-route' }),
    ).rejects.toThrow(/the app answered 404 at http:\/\/localhost:\d+\/no-such-route .*Cannot GET/);
  });

  it('rejects with the status and body when the callback fails', async () => {
    emulator.faults.set('/auth/realms/cern/protocol/openid-connect/token', { status: 503, times: 1 });
    try {
      await expect(emulator.login({ baseUrl: app.baseUrl, login: 'jdoe' })).rejects.toThrow(
        /the app's callback http:\/\/localhost:\d+\/oidc\/callback answered 503: ./,
      );
    } finally {
      emulator.faults.clear();
    }
  });

  it("rejects a disabled account with the emulator's reason", async () => {
    emulator.users.push({ login: 'gone', active: false });
    try {
      await expect(emulator.login({ baseUrl: app.baseUrl, login: 'gone' })).rejects.toThrow(
        /refused to sign "gone" in: access_denied \(Account is disabled/,
      );
    } finally {
      emulator.users.splice(
        emulator.users.findIndex((user) => user.login === 'gone'),
        1,
      );
    }
  });
});

describe('login tickets at the authorization endpoint', () => {
  it('an unknown ticket header logs nobody in: the login form is shown', async () => {
    const started = await fetch(`${app.baseUrl}/login`, { redirect: 'manual' });
    const authorize = started.headers.get('location') ?? '';
    const res = await fetch(authorize, {
      redirect: 'manual',
      headers: { 'x-cern-sso-emulator-login': 'not-a-ticket' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/name="username"/);
  });
});
