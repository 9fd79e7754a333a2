import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, requireAuth, requireClaim } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { EDUGAIN_LOGIN } from '../../src/testing/seed.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const AUDIENCE = 'my-api';
const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  // A client of its own for the client-credentials grant, whose tokens carry the API's audience.
  emulator.registerClient({
    clientId: 'batch-job',
    clientSecret: 'batch-job-secret',
    redirectUris: ['http://127.0.0.1:1/cb'],
    accessTokenAudience: [AUDIENCE],
  });
  app = await startTestApp(emulator, {
    routes: (express) => {
      express.use('/api', bearerAuth({ audience: AUDIENCE, optional: true }));
      express.get('/api/kind', requireAuth(), (req, res) => {
        res.json({ login: req.sso.user?.login, accountType: req.sso.user?.accountType ?? null });
      });
      // The README recipe "CERN people only": no new guard, requireClaim with a predicate.
      express.get('/api/staff-only', requireClaim('cern_person_id', Number.isSafeInteger), (_req, res) => {
        res.json({ ok: true });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

async function get(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    headers: { ...JSON_ACCEPT, ...headers },
    redirect: 'manual',
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function clientCredentialsToken(): Promise<string> {
  const res = await fetch(`${emulator.issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('batch-job:batch-job-secret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('req.sso.user.accountType through real HTTP', () => {
  it.each([
    ['jdoe', 'person'],
    [EDUGAIN_LOGIN, 'external'],
    ['guest-anna', null],
    ['svc-monitoring', null],
  ])('session of %s: %s', async (login, expected) => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login });
    const { status, body } = await get('/api/kind', { cookie });
    expect(status).toBe(200);
    expect(body).toEqual({ login, accountType: expected });
  });

  it.each([
    ['jdoe', 'person'],
    [EDUGAIN_LOGIN, 'external'],
    ['guest-anna', null],
  ])('bearer token of %s: %s', async (login, expected) => {
    const token = await emulator.issueAccessToken(login, { audience: AUDIENCE });
    const { status, body } = await get('/api/kind', { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body).toEqual({ login, accountType: expected });
  });

  it('a client-credentials token is a service account', async () => {
    const token = await clientCredentialsToken();
    const { status, body } = await get('/api/kind', { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body).toEqual({ login: 'service-account-batch-job', accountType: 'service' });
  });
});

describe('recipe: CERN people only, with requireClaim', () => {
  it('a CERN person passes, by session and by bearer token', async () => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login: 'jdoe' });
    expect((await get('/api/staff-only', { cookie })).status).toBe(200);
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await get('/api/staff-only', { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it.each(['guest-anna', EDUGAIN_LOGIN, 'svc-monitoring'])('%s gets 403 access_denied', async (login) => {
    const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login });
    const { status, body } = await get('/api/staff-only', { cookie });
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: 'access_denied', code: 'ERR_FORBIDDEN' });
  });

  it('a client-credentials token gets 403 insufficient_scope', async () => {
    const token = await clientCredentialsToken();
    const { status, body } = await get('/api/staff-only', { authorization: `Bearer ${token}` });
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: 'insufficient_scope', code: 'ERR_FORBIDDEN' });
  });

  it('anonymous requests get 401', async () => {
    const { status, body } = await get('/api/staff-only', {});
    expect(status).toBe(401);
    expect(body.code).toBe('ERR_NOT_AUTHENTICATED');
  });
});
