import type { ErrorRequestHandler, RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bearerAuth,
  cernSso,
  createIdentityProvider,
  requireGroup,
  type IdentityProvider,
} from 'express-cern-sso';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { kIssuer } from '../../src/context.js';
import { recordingLogger, startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { call, startApp, type RunningApp } from './helpers.js';

const AUDIENCE = 'my-api';
const AUTHZ = '/api/v1.0';

/** CERN's Keycloak and AuthZ API (the identity provider's issuer), and a partner's Keycloak. */
let cern: CernSsoEmulator;
let partner: CernSsoEmulator;
let afterSso: RunningApp;
let withIdentity: RunningApp;
let identity: IdentityProvider;
const logger = recordingLogger();

const me: RequestHandler = (req, res) => {
  res.json({ user: req.sso.user });
};

/** AuthZ API and API-token requests at CERN's emulator (the partner's has no business seeing any). */
const authzCalls = (): number =>
  cern.requests.count(AUTHZ) +
  cern.requests.count('/auth/realms/cern/api-access') +
  partner.requests.count(AUTHZ);

beforeAll(async () => {
  [cern, partner] = await Promise.all([startCernSsoEmulator(), startCernSsoEmulator()]);
  // Same realm name on another port: another issuer whose users include a "jdoe".
  expect(partner.issuer).not.toBe(cern.issuer);
  const issuer = [cern.issuer, partner.issuer];
  afterSso = await startApp((app) => {
    app.use(
      cernSso({
        clientId: demoClient.clientId,
        clientSecret: demoClient.clientSecret,
        baseUrl: 'http://localhost:1',
        issuer: cern.issuer,
        authzApiUrl: cern.authzApiUrl,
        logger,
      }),
    );
    app.use('/api', bearerAuth({ issuer, audience: AUDIENCE, logger }));
    app.get('/api/me', me);
    app.get('/api/it-dep', requireGroup('it-dep'), me);
  });
  identity = createIdentityProvider({
    clientId: demoClient.clientId,
    clientSecret: demoClient.clientSecret,
    issuer: cern.issuer,
    authzApiUrl: cern.authzApiUrl,
    logger,
  });
  // createIdentityProvider() carries the issuer whose users it knows.
  expect((identity as { [kIssuer]?: string })[kIssuer]).toBe(cern.issuer);
  withIdentity = await startApp((app) => {
    app.use(bearerAuth({ issuer, audience: AUDIENCE, identity, logger }));
    app.get('/me', me);
    app.get('/it-dep', requireGroup('it-dep'), me);
    app.get('/groups', async (req, res) => {
      res.json({ groups: await req.sso.groups() });
    });
  });
});
afterAll(async () => {
  await Promise.all([afterSso.close(), withIdentity.close()]);
  await identity.close();
  await Promise.all([cern.close(), partner.close()]);
});
beforeEach(() => {
  cern.requests.reset();
  partner.requests.reset();
});

describe('several trusted issuers: AuthZ lookups only for the identity provider’s own issuer', () => {
  for (const [name, url] of [
    ['bearerAuth() after cernSso()', () => afterSso.url + '/api'],
    ['bearerAuth({ identity })', () => withIdentity.url],
  ] as const) {
    describe(name, () => {
      it("a partner's token naming jdoe (sub, cern_upn, preferred_username) does not get CERN jdoe's groups: 403, no AuthZ call", async () => {
        const token = await partner.issueAccessToken('jdoe', { audience: AUDIENCE });
        const answer = await call(`${url()}/it-dep`, { token });
        expect(answer.status).toBe(403);
        expect(answer.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
        expect(authzCalls()).toBe(0);
      });

      it("the identity provider's own tokens still get their groups from the AuthZ API", async () => {
        const token = await cern.issueAccessToken('jdoe', { audience: AUDIENCE });
        expect((await call(`${url()}/it-dep`, { token })).status).toBe(200);
        expect(cern.requests.count(`${AUTHZ}/IdentityMembership`)).toBe(1);
      });

      it('req.sso.user.issuer tells the two jdoes apart', async () => {
        const ours = await call(`${url()}/me`, {
          token: await cern.issueAccessToken('jdoe', { audience: AUDIENCE }),
        });
        const theirs = await call(`${url()}/me`, {
          token: await partner.issueAccessToken('jdoe', { audience: AUDIENCE }),
        });
        expect(ours.json.user).toMatchObject({ login: 'jdoe', issuer: cern.issuer });
        expect(theirs.json.user).toMatchObject({ login: 'jdoe', issuer: partner.issuer });
      });
    });
  }

  it("a partner's groups claim is the partner user's groups (no AuthZ call); none means no groups", async () => {
    const claimed = await partner.issueAccessToken('jdoe', {
      audience: AUDIENCE,
      claims: { groups: ['it-dep'] },
    });
    expect((await call(`${withIdentity.url}/it-dep`, { token: claimed })).status).toBe(200);
    const bare = await partner.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(`${withIdentity.url}/groups`, { token: bare })).json).toEqual({ groups: [] });
    expect(authzCalls()).toBe(0);
  });

  it('a cached CERN jdoe does not leak to the partner’s jdoe', async () => {
    const ours = await cern.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(`${withIdentity.url}/it-dep`, { token: ours })).status).toBe(200);
    // CERN jdoe's groups are now cached by login in the identity provider.
    const theirs = await partner.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(`${withIdentity.url}/it-dep`, { token: theirs })).status).toBe(403);
    expect((await call(`${withIdentity.url}/it-dep`, { token: ours })).status).toBe(200);
  });

  it('an identity provider that does not say its issuer, with several issuers: a clear 500 ERR_CONFIG, never a lookup', async () => {
    const untagged = createIdentityProvider({
      clientId: demoClient.clientId,
      clientSecret: demoClient.clientSecret,
      issuer: cern.issuer,
      authzApiUrl: cern.authzApiUrl,
      logger,
    });
    const bare = {
      getUserGroups: (login: string) => untagged.getUserGroups(login),
      exchangeToken: (token: string, audience: string) => untagged.exchangeToken(token, audience),
    };
    const app = await startApp((express) => {
      express.use(
        bearerAuth({ issuer: [cern.issuer, partner.issuer], audience: AUDIENCE, identity: bare, logger }),
      );
      express.get('/it-dep', requireGroup('it-dep'), me);
    });
    try {
      const token = await partner.issueAccessToken('jdoe', { audience: AUDIENCE });
      const answer = await call(`${app.url}/it-dep`, { token });
      expect(answer.status).toBe(500);
      expect(answer.json.code).toBe('ERR_CONFIG');
      expect(logger.text()).toMatch(/cannot tell which one the identity provider serves/);
      expect(authzCalls()).toBe(0);
    } finally {
      await app.close();
      await untagged.close();
    }
  });

  it("req.sso.exchangeToken() refuses a partner's token (never sent to CERN's Keycloak)", async () => {
    const app = await startApp((express) => {
      express.use(
        bearerAuth({ issuer: [cern.issuer, partner.issuer], audience: AUDIENCE, identity, logger }),
      );
      express.get('/exchange', async (req, res, next) => {
        try {
          res.json({ token: typeof (await req.sso.exchangeToken('other-api')) });
        } catch (error) {
          next(error);
        }
      });
      const answerError: ErrorRequestHandler = (
        error: { status?: number; code?: string },
        _req,
        res,
        _next,
      ) => {
        res.status(error.status ?? 500).json({ error: error.code });
      };
      express.use(answerError);
    });
    try {
      const token = await partner.issueAccessToken('jdoe', { audience: AUDIENCE });
      const answer = await call(`${app.url}/exchange`, { token });
      expect(answer.status).toBe(403);
      expect(cern.requests.count('/auth/realms/cern/protocol/openid-connect/token')).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('req.sso.user.issuer for session users', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(cern);
  });
  afterAll(async () => {
    await app.close();
  });

  it('is the ID token’s issuer', async () => {
    cern.setAutoLogin('jdoe');
    try {
      const browser = new TestBrowser();
      const page = await browser.navigate(`${app.baseUrl}/api/me`, { headers: { accept: 'text/html' } });
      expect(page.url).toBe(`${app.baseUrl}/api/me`);
      const body = JSON.parse(page.body) as { user: { login: string; issuer: string } };
      expect(body.user).toMatchObject({ login: 'jdoe', issuer: cern.issuer });
    } finally {
      cern.setAutoLogin(false);
    }
  });
});
