/**
 * One JSON error shape for every answer of the library, over real HTTP: the routes of cernSso(),
 * the guards (session and bearer), bearerAuth(), userSearchHandler() and cernSsoErrorHandler().
 */
import type { RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CernSsoError,
  bearerAuth,
  cernSsoErrorHandler,
  requireAuth,
  requireGroup,
  userSearchHandler,
} from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';

let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, {
    routes: (express) => {
      // `app` (and so `app.sso.identity`) exists once startTestApp resolved: built on first use.
      let open: RequestHandler | undefined;
      let private_: RequestHandler | undefined;
      express.get('/shape/search', (req, res, next) => {
        open ??= userSearchHandler(app.sso.identity, { requireLogin: false });
        void open(req, res, next);
      });
      express.get('/shape/search-private', (req, res, next) => {
        private_ ??= userSearchHandler(app.sso.identity);
        void private_(req, res, next);
      });
      express.get(
        '/shape/api',
        bearerAuth({ issuer: emulator.issuer, audience: 'test-app' }),
        (_req, res) => {
          res.send('ok');
        },
      );
      express.get(
        '/shape/api/admins',
        bearerAuth({ issuer: emulator.issuer, audience: 'test-app' }),
        requireGroup('IT-DEP-ADMINS'),
        (_req, res) => {
          res.send('ok');
        },
      );
      express.get('/shape/session', requireAuth(), (_req, res) => {
        res.send('ok');
      });
      express.get('/shape/outage', () => {
        throw new CernSsoError('ERR_UPSTREAM_UNAVAILABLE', 'The CERN login service is unavailable', {
          status: 503,
          headers: { 'Retry-After': '5' },
        });
      });
      express.use(cernSsoErrorHandler());
    },
  });
});

afterAll(async () => {
  await app.close();
  await emulator.close();
});

async function errorOf(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    redirect: 'manual',
    ...init,
    headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: response.status, body: await response.json() };
}

function expectShape(body: unknown, error: string, code: string): void {
  expect(Object.keys(body as object).sort()).toEqual(['code', 'error', 'error_description']);
  expect(body).toEqual({ error, code, error_description: expect.any(String) as unknown });
  expect((body as { error_description: string }).error_description.length).toBeGreaterThan(10);
}

describe('every JSON error is { error, error_description, code }', () => {
  it('the callback route: invalid_request / ERR_LOGIN_STATE', async () => {
    const { status, body } = await errorOf('/oidc/callback?code=x');
    expect(status).toBe(400);
    expectShape(body, 'invalid_request', 'ERR_LOGIN_STATE');
  });

  it('the back-channel logout route: invalid_request / ERR_INVALID_REQUEST', async () => {
    const { status, body } = await errorOf('/oidc/backchannel-logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(status).toBe(400);
    expectShape(body, 'invalid_request', 'ERR_INVALID_REQUEST');
  });

  it('requireAuth() on a session route: login_required / ERR_NOT_AUTHENTICATED', async () => {
    const { status, body } = await errorOf('/shape/session');
    expect(status).toBe(401);
    expectShape(body, 'login_required', 'ERR_NOT_AUTHENTICATED');
  });

  it('bearerAuth(): invalid_token / ERR_INVALID_TOKEN', async () => {
    const { status, body } = await errorOf('/shape/api', { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(status).toBe(401);
    expectShape(body, 'invalid_token', 'ERR_INVALID_TOKEN');
  });

  it('bearerAuth() without credentials: login_required / ERR_NOT_AUTHENTICATED', async () => {
    const { status, body } = await errorOf('/shape/api');
    expect(status).toBe(401);
    expectShape(body, 'login_required', 'ERR_NOT_AUTHENTICATED');
  });

  it('a guard after bearerAuth(): insufficient_scope / ERR_FORBIDDEN', async () => {
    const token = await emulator.issueAccessToken('jdoe', { clientId: 'test-app', audience: 'test-app' });
    const { status, body } = await errorOf('/shape/api/admins', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(status).toBe(403);
    expectShape(body, 'insufficient_scope', 'ERR_FORBIDDEN');
  });

  it('userSearchHandler(): invalid_request / ERR_BAD_REQUEST and login_required / ERR_NOT_AUTHENTICATED', async () => {
    const short = await errorOf('/shape/search?q=a');
    expect(short.status).toBe(400);
    expectShape(short.body, 'invalid_request', 'ERR_BAD_REQUEST');
    const anonymous = await errorOf('/shape/search-private?q=john');
    expect(anonymous.status).toBe(401);
    expectShape(anonymous.body, 'login_required', 'ERR_NOT_AUTHENTICATED');
  });

  it('cernSsoErrorHandler(): temporarily_unavailable / ERR_UPSTREAM_UNAVAILABLE, with Retry-After', async () => {
    const response = await fetch(`${app.baseUrl}/shape/outage`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expectShape(await response.json(), 'temporarily_unavailable', 'ERR_UPSTREAM_UNAVAILABLE');
  });
});
