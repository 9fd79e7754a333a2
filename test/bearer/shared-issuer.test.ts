import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, createIdentityProvider } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { recordingLogger, startTestApp, type TestApp } from '../helpers/app.js';
import { call } from './helpers.js';

const AUDIENCE = 'my-api';
const DISCOVERY = '/auth/realms/cern/.well-known/openid-configuration';
const CERTS = '/auth/realms/cern/protocol/openid-connect/certs';
const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, {
    clientId: 'shared-app',
    routes: (express) => {
      express.use(
        '/bearer',
        bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: recordingLogger() }),
      );
      express.get('/bearer/me', (req, res) => res.json({ login: req.sso.user?.login }));
    },
  });
  const client = emulator.clients.get('shared-app');
  if (!client) throw new Error('the test app registers its client');
  emulator.registerClient({ ...client, backchannelLogoutUri: `${app.baseUrl}/oidc/backchannel-logout` });
  emulator.requests.reset();
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

describe('one issuer, one discovery and one JWKS in the process', () => {
  it('cernSso(), bearerAuth(), back-channel logout and createIdentityProvider() share them', async () => {
    // Sign-in discovers the issuer.
    emulator.setAutoLogin('jdoe');
    const browser = new TestBrowser();
    expect((await browser.navigate(`${app.baseUrl}/login`)).body).toBe('home of jdoe');
    expect(emulator.requests.count(DISCOVERY)).toBe(1);

    // bearerAuth() of the same issuer: no second discovery; the JWKS fetched once.
    const token = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    expect((await call(`${app.baseUrl}/bearer/me`, { token })).json).toEqual({ login: 'admin1' });
    expect(emulator.requests.count(DISCOVERY)).toBe(1);
    expect(emulator.requests.count(CERTS)).toBe(1);

    // Keycloak's logout token is verified with those same keys.
    await emulator.endSsoSessions('jdoe');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
    expect(emulator.requests.count(CERTS)).toBe(1);

    // An identity provider of the same issuer: its own client, the same discovery.
    const identity = createIdentityProvider({
      clientId: 'shared-app',
      clientSecret: 'shared-app-secret',
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      logger: recordingLogger(),
    });
    try {
      expect(typeof (await identity.getApiToken())).toBe('string');
    } finally {
      await identity.close();
    }
    expect(emulator.requests.count(DISCOVERY)).toBe(1);
    expect(emulator.requests.count(CERTS)).toBe(1);
  });
});
