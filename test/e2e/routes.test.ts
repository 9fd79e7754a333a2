import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';

let emulator: CernSsoEmulator;
beforeAll(async () => {
  emulator = await startCernSsoEmulator({ autoLogin: 'jdoe' });
});
afterAll(async () => {
  await emulator.close();
});

const call = (url: string, method = 'GET') => fetch(url, { method, redirect: 'manual' });

/** A login route answered: a redirect to the IdP's authorization endpoint. */
async function expectLoginRedirect(response: Response): Promise<void> {
  expect(response.status).toBe(302);
  expect(response.headers.get('location')).toMatch(/\/protocol\/openid-connect\/auth\?/);
  await response.body?.cancel();
}

describe("cernSso()'s routes match exactly: case-insensitive, optional trailing slash", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(emulator, { clientId: 'routes-app' });
  });
  afterAll(async () => {
    await app.close();
  });

  it.each(['/login', '/LOGIN', '/Login/', '/login/'])('GET %s is the login route', async (path) => {
    await expectLoginRedirect(await call(`${app.baseUrl}${path}`));
  });

  it('HEAD /login is answered by the login route, without a body', async () => {
    const response = await call(`${app.baseUrl}/login`, 'HEAD');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(/\/protocol\/openid-connect\/auth\?/);
    expect(await response.text()).toBe('');
  });

  it.each([
    ['GET', '/login/x'],
    ['GET', '/loginx'],
    ['GET', '/login//'],
    ['POST', '/login'],
    ['PUT', '/logout'],
    ['GET', '/oidc/backchannel-logout'],
  ])('%s %s is not a route of cernSso(): the app answers (404)', async (method, path) => {
    const response = await call(`${app.baseUrl}${path}`, method);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });

  it.each([
    ['GET', '/logout'],
    ['POST', '/LOGOUT/'],
  ])('%s %s is the logout route', async (method, path) => {
    const response = await call(`${app.baseUrl}${path}`, method);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/');
  });
});

describe('configured route paths are literal paths', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(emulator, {
      clientId: 'routes-app-2',
      // Characters path-to-regexp would read as a parameter, a wildcard or a group.
      sso: { routes: { login: '/auth:login(*)', logout: false } },
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('the path itself is the route, nothing that its syntax would match', async () => {
    await expectLoginRedirect(await call(`${app.baseUrl}/auth:login(*)`));
    await expectLoginRedirect(await call(`${app.baseUrl}/AUTH:LOGIN(*)/`));
    for (const path of ['/authXlogin', '/auth:other(*)', '/auth:login', '/login']) {
      const response = await call(`${app.baseUrl}${path}`);
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
  });

  it('a disabled route (false) is not mounted', async () => {
    const response = await call(`${app.baseUrl}/logout`);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});
