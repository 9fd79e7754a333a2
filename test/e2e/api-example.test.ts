/** examples/api: a REST API behind bearerAuth, called with tokens from the emulator, as its README shows. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityProvider, type IdentityProvider } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { createApiApp } from '../../examples/api/app.js';

let emulator: CernSsoEmulator;
let identity: IdentityProvider;
let server: Server;
let api: string;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  emulator.registerClient({ clientId: 'demo-api', clientSecret: 'demo-api-secret', redirectUris: [] });
  emulator.registerClient({
    clientId: 'api-client',
    clientSecret: 'api-client-secret',
    redirectUris: [],
    accessTokenAudience: ['demo-api'],
    roles: { 'service-account-api-client': ['reader'] },
  });
  identity = createIdentityProvider({
    clientId: 'demo-api',
    clientSecret: 'demo-api-secret',
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
  });
  const app = createApiApp({ issuer: emulator.issuer, audience: 'demo-api', identity });
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s);
    });
  });
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await identity.close();
  await emulator.close();
});

/** What the README's curl line does: client credentials at the token endpoint. */
async function serviceToken(): Promise<string> {
  const response = await fetch(`${emulator.issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('api-client:api-client-secret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

const call = (path: string, token?: string) =>
  fetch(`${api}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describe('examples/api', () => {
  it('a service token from client credentials is accepted and mapped to req.sso', async () => {
    const token = await serviceToken();
    const response = await call('/api/whoami', token);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      user: { login: 'service-account-api-client', roles: ['reader'] },
      clientId: 'api-client',
    });
    expect((await call('/api/reports', token)).status).toBe(200);
  });

  it('guards answer per RFC 6750: 401 without a token, 403 insufficient_scope without the group', async () => {
    const anonymous = await call('/api/whoami');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    const forbidden = await call('/api/admin/stats', await serviceToken());
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });

  it('requireGroup on an API route uses the AuthZ API when the token has no groups claim', async () => {
    const admin = await emulator.issueAccessToken('admin1', { audience: 'demo-api' });
    emulator.requests.reset();
    expect((await call('/api/admin/stats', admin)).status).toBe(200);
    expect(emulator.requests.count('/api/v1.0/IdentityMembership')).toBe(1);
    const user = await emulator.issueAccessToken('jdoe', { audience: 'demo-api' });
    expect((await call('/api/admin/stats', user)).status).toBe(403);
  });

  it('a token for another audience is refused with a helpful message', async () => {
    const other = await emulator.issueAccessToken('jdoe', { audience: 'account' });
    const response = await call('/api/whoami', other);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(JSON.stringify(await response.json())).toMatch(/account/);
  });

  it('requireClaim on a nested claim path', async () => {
    const auditor = await emulator.issueAccessToken('jdoe', {
      audience: 'demo-api',
      claims: { resource_access: { 'demo-api': { roles: ['auditor'] } } },
    });
    expect((await call('/api/audit', auditor)).status).toBe(200);
    expect((await call('/api/audit', await serviceToken())).status).toBe(403);
  });
});
