import type { RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  bearerAuth,
  cernSso,
  createIdentityProvider,
  requireAuth,
  requireClaim,
  requireEntitlement,
  requireGroup,
  requireRole,
  type IdentityProvider,
} from 'express-cern-sso';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { call, decode, startApp, type RunningApp } from '../bearer/helpers.js';

const AUDIENCE = 'my-api';
const AUTHZ = '/api/v1.0';
const ENTITLEMENT = 'urn:geant:cern.ch:group:it-dep:role=member#cern.ch';

let emulator: CernSsoEmulator;
let identity: IdentityProvider;
let api: RunningApp;
let noIdentityApi: RunningApp;
let afterSsoApi: RunningApp;
const logger = recordingLogger();

const ok: RequestHandler = (req, res) => {
  res.json({ login: req.sso.user?.login });
};

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  // An application whose tokens carry the `groups` claim, with this API as audience.
  emulator.registerClient({
    clientId: 'groups-app',
    clientSecret: 'groups-app-secret',
    redirectUris: [],
    groupsClaim: true,
    accessTokenAudience: [AUDIENCE],
    roles: { admin1: ['admin'] },
  });
  identity = createIdentityProvider({
    clientId: demoClient.clientId,
    clientSecret: demoClient.clientSecret,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger,
  });
  const options = { issuer: emulator.issuer, audience: AUDIENCE, logger, cernUsersGroup: 'cern-users-demo' };
  api = await startApp((app) => {
    app.use('/api', bearerAuth({ ...options, identity }));
    app.get('/api/auth', requireAuth(), ok);
    app.get('/api/admin', requireRole('admin'), ok);
    app.get('/api/it-admins', requireGroup('IT-DEP-ADMINS'), ok);
    app.get('/api/cern-users', requireGroup('CERN Users'), ok);
    app.get('/api/client-role', requireClaim('resource_access.demo-app.roles', 'admin'), ok);
    app.get(
      '/api/client-roles',
      requireClaim('resource_access.demo-app.roles', ['admin', 'user'], { match: 'all' }),
      ok,
    );
    app.get('/api/entitled', requireEntitlement(ENTITLEMENT), ok);
    app.get('/api/groups', async (req, res) => {
      res.json({ groups: await req.sso.groups() });
    });
    app.get('/api/exchange', async (req, res) => {
      res.json(decode(await req.sso.exchangeToken('other-cern-api')).payload);
    });
  });
  noIdentityApi = await startApp((app) => {
    app.use(bearerAuth(options));
    app.get('/it-admins', requireGroup('it-dep-admins'), ok);
  });
  afterSsoApi = await startApp((app) => {
    app.use(
      cernSso({
        clientId: demoClient.clientId,
        clientSecret: demoClient.clientSecret,
        baseUrl: 'http://localhost:1',
        issuer: emulator.issuer,
        authzApiUrl: emulator.authzApiUrl,
        logger,
      }),
    );
    app.use('/api', bearerAuth(options));
    app.get('/api/it-admins', requireGroup('it-dep-admins'), ok);
  });
});
afterAll(async () => {
  await Promise.all([api.close(), noIdentityApi.close(), afterSsoApi.close()]);
  await identity.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
});

const token = (login: string, options: Parameters<CernSsoEmulator['issueAccessToken']>[1] = {}) =>
  emulator.issueAccessToken(login, { audience: AUDIENCE, ...options });

describe('guards on bearer routes', () => {
  it('requireAuth: a token passes; no token is a 401 with a Bearer challenge', async () => {
    expect((await call(`${api.url}/api/auth`, { token: await token('jdoe') })).json).toEqual({
      login: 'jdoe',
    });
    const anonymous = await call(`${api.url}/api/auth`, { headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.headers.get('location')).toBeNull();
  });

  it('requireRole: 403 with insufficient_scope', async () => {
    expect((await call(`${api.url}/api/admin`, { token: await token('admin1') })).status).toBe(200);
    const denied = await call(`${api.url}/api/admin`, { token: await token('jdoe') });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toMatch(
      /^Bearer error="insufficient_scope", error_description=".*admin/,
    );
  });

  it('requireGroup with a groups claim: decided from the token, no AuthZ call', async () => {
    const admin = await token('admin1', { clientId: 'groups-app' });
    expect(decode(admin).payload.groups).toContain('it-dep-admins');
    expect((await call(`${api.url}/api/it-admins`, { token: admin })).status).toBe(200);
    const user = await token('jdoe', { clientId: 'groups-app' });
    const denied = await call(`${api.url}/api/it-admins`, { token: user });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
    // The CERN Users alias applies to the claim too.
    expect(
      (await call(`${api.url}/api/cern-users`, { token: await token('lnguyen', { clientId: 'groups-app' }) }))
        .status,
    ).toBe(200);
    expect(emulator.requests.count(AUTHZ)).toBe(0);
    expect(emulator.requests.count('/auth/realms/cern/api-access')).toBe(0);
  });

  it('requireGroup without a groups claim: asks the AuthZ API through the identity provider', async () => {
    expect((await call(`${api.url}/api/it-admins`, { token: await token('admin1') })).status).toBe(200);
    expect(emulator.requests.count(`${AUTHZ}/IdentityMembership`)).toBe(1);
    expect((await call(`${api.url}/api/it-admins`, { token: await token('jdoe') })).status).toBe(403);
    expect(emulator.requests.count(`${AUTHZ}/IdentityMembership`)).toBe(2);
    const groups = await call(`${api.url}/api/groups`, { token: await token('jdoe') });
    expect(groups.json.groups).toEqual(expect.arrayContaining(['it-dep', 'cern-staff']));
  });

  it("requireGroup uses cernSso()'s identity provider when mounted after it", async () => {
    expect((await call(`${afterSsoApi.url}/api/it-admins`, { token: await token('admin1') })).status).toBe(
      200,
    );
    expect((await call(`${afterSsoApi.url}/api/it-admins`, { token: await token('jdoe') })).status).toBe(403);
    expect(emulator.requests.count(`${AUTHZ}/IdentityMembership`)).toBe(2);
  });

  it('requireGroup without groups claim nor identity provider: a clear 500 ERR_CONFIG, never a grant', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    logger.error.mockClear();
    try {
      const answer = await call(`${noIdentityApi.url}/it-admins`, { token: await token('admin1') });
      expect(answer.status).toBe(500);
      expect(answer.json.code).toBe('ERR_CONFIG');
      // Logged with bearerAuth()'s logger, not the console.
      expect(String(logger.lines('error')[0])).toMatch(
        /needs an identity provider: pass bearerAuth\(\{ identity \}\)/,
      );
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });

  it('requireClaim on a nested path (a client id with "-")', async () => {
    expect((await call(`${api.url}/api/client-role`, { token: await token('admin1') })).status).toBe(200);
    expect((await call(`${api.url}/api/client-roles`, { token: await token('admin1') })).status).toBe(200);
    const denied = await call(`${api.url}/api/client-roles`, { token: await token('jdoe') });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  });

  it('requireEntitlement (AARC-G002)', async () => {
    const entitled = await token('jdoe', { claims: { eduperson_entitlement: [ENTITLEMENT] } });
    expect((await call(`${api.url}/api/entitled`, { token: entitled })).status).toBe(200);
    const subGroupOnly = await token('jdoe', {
      claims: { eduperson_entitlement: ['urn:geant:cern.ch:group:it-dep:cd:role=member#cern.ch'] },
    });
    expect((await call(`${api.url}/api/entitled`, { token: subGroupOnly })).status).toBe(403);
    expect((await call(`${api.url}/api/entitled`, { token: await token('jdoe') })).status).toBe(403);
  });

  it('req.sso.exchangeToken exchanges the bearer token through the identity provider', async () => {
    const answer = await call(`${api.url}/api/exchange`, { token: await token('jdoe') });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ sub: 'jdoe', aud: 'other-cern-api' });
  });
});
