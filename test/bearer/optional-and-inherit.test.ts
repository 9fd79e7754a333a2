import type { RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bearerAuth, requireAuth, userSearchHandler } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { untrustedIssuer } from '../../src/bearer/jwt.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { call, tamper } from './helpers.js';

const AUDIENCE = 'my-api';
const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
/** Another Keycloak (same realm name, another port): another issuer. */
let other: CernSsoEmulator;
/** cernSso({ issuer: emulator.issuer }), then bearerAuth({ optional: true }) without `issuer`. */
let app: TestApp;
/** The same, with bearerAuth({ issuer: other.issuer }): the option beats the inherited issuer. */
let explicit: TestApp;
let savedIssuerEnv: string | undefined;

beforeAll(async () => {
  // No env: the issuer can only come from cernSso() (else CERN's production issuer).
  savedIssuerEnv = process.env.CERN_SSO_ISSUER;
  delete process.env.CERN_SSO_ISSUER;
  [emulator, other] = await Promise.all([startCernSsoEmulator(), startCernSsoEmulator()]);
  expect(other.issuer).not.toBe(emulator.issuer);
  app = await startTestApp(emulator, {
    routes: (express) => {
      // The README's two recipes on one prefix: bearer or session, and the people search box.
      express.use('/api', bearerAuth({ audience: AUDIENCE, optional: true }));
      express.get('/api/whoami', requireAuth(), (req, res) => {
        res.json({ login: req.sso.user?.login, issuer: req.sso.user?.issuer });
      });
      // startTestApp() makes cernSso() (app.sso) before it returns: the handler is made on first use.
      let search: RequestHandler | undefined;
      express.get('/api/users', (req, res, next) => {
        search ??= userSearchHandler(app.sso.identity, { minQueryLength: 3, limit: 10 });
        void search(req, res, next);
      });
    },
  });
  explicit = await startTestApp(emulator, {
    clientId: 'explicit-app',
    routes: (express) => {
      express.use('/api', bearerAuth({ audience: AUDIENCE, issuer: other.issuer }));
      express.get('/api/whoami', requireAuth(), (req, res) => {
        res.json({ login: req.sso.user?.login, issuer: req.sso.user?.issuer });
      });
    },
  });
});

afterAll(async () => {
  await Promise.all([app.close(), explicit.close()]);
  await Promise.all([emulator.close(), other.close()]);
  if (savedIssuerEnv !== undefined) process.env.CERN_SSO_ISSUER = savedIssuerEnv;
});

beforeEach(() => {
  emulator.setAutoLogin(false);
});

/** A browser signed in as `login` through the emulator's login form. */
async function signedInBrowser(login = 'jdoe'): Promise<TestBrowser> {
  const browser = new TestBrowser();
  const form = await browser.navigate(`${app.baseUrl}/profile`);
  expect(form.status).toBe(200);
  const page = await browser.submitForm(form, { username: login, password: 'demo' });
  expect(page.status).toBe(200);
  return browser;
}

describe('bearerAuth({ optional: true }): session or bearer on one route', () => {
  it('a signed-in browser session reaches a requireAuth() route without a token', async () => {
    const browser = await signedInBrowser();
    const response = await browser.request(`${app.baseUrl}/api/whoami`, { headers: JSON_ACCEPT });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ login: 'jdoe', issuer: emulator.issuer });
  });

  it('a bearer token reaches the same route', async () => {
    const token = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const answer = await call(`${app.baseUrl}/api/whoami`, { token });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ login: 'admin1', issuer: emulator.issuer });
  });

  it('a bad token is a 401 invalid_token, even with a signed-in session (never silently the session)', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: 'another-api' });
    expect((await call(`${app.baseUrl}/api/whoami`, { token })).json.code).toBe('ERR_INVALID_TOKEN');
    const browser = await signedInBrowser();
    const response = await browser.request(`${app.baseUrl}/api/whoami`, {
      headers: { ...JSON_ACCEPT, authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(((await response.json()) as { code: string }).code).toBe('ERR_INVALID_TOKEN');
  });

  it('a malformed Bearer header is still a 400 invalid_request', async () => {
    const answer = await call(`${app.baseUrl}/api/whoami`, { headers: { authorization: 'Bearer a b' } });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  it('anonymous requests pass bearerAuth and get the guard’s 401 JSON', async () => {
    const answer = await call(`${app.baseUrl}/api/whoami`);
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'login_required', code: 'ERR_NOT_AUTHENTICATED' });
  });

  it('credentials of another scheme (Basic) are not bearerAuth’s: the session still decides', async () => {
    const basic = { authorization: `Basic ${Buffer.from('jdoe:demo').toString('base64')}` };
    expect((await call(`${app.baseUrl}/api/whoami`, { headers: basic })).status).toBe(401);
    const browser = await signedInBrowser();
    const response = await browser.request(`${app.baseUrl}/api/whoami`, {
      headers: { ...JSON_ACCEPT, ...basic },
    });
    expect(response.status).toBe(200);
  });

  it('userSearchHandler() under /api answers a session, a bearer token, and refuses anonymous', async () => {
    const browser = await signedInBrowser();
    const bySession = await browser.request(`${app.baseUrl}/api/users?q=doe`, { headers: JSON_ACCEPT });
    expect(bySession.status).toBe(200);
    expect(((await bySession.json()) as { users: unknown[] }).users.length).toBeGreaterThan(0);
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const byToken = await call(`${app.baseUrl}/api/users?q=doe`, { token });
    expect(byToken.status).toBe(200);
    const anonymous = await call(`${app.baseUrl}/api/users?q=doe`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.code).toBe('ERR_NOT_AUTHENTICATED');
  });
});

describe('bearerAuth() inherits the issuer of cernSso()', () => {
  it('accepts the tokens of the issuer of the cernSso() mounted before it, with no env set', async () => {
    expect(process.env.CERN_SSO_ISSUER).toBeUndefined();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(`${app.baseUrl}/api/whoami`, { token })).status).toBe(200);
  });

  it('a token of another issuer is a 401 naming the expected and the received issuer', async () => {
    const token = await other.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answer = await call(`${app.baseUrl}/api/whoami`, { token });
    expect(answer.status).toBe(401);
    expect(answer.json.code).toBe('ERR_INVALID_TOKEN');
    const description = String(answer.json.error_description);
    expect(description).toContain(`expected "${emulator.issuer}"`);
    expect(description).toContain(`received "${other.issuer}"`);
    expect(answer.headers.get('www-authenticate')).toContain(other.issuer);
    expect(other.requests.count('/auth/realms/cern/.well-known/openid-configuration')).toBe(0);
  });

  it('an explicit issuer beats the inherited one', async () => {
    const ours = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const theirs = await other.issueAccessToken('jdoe', { audience: AUDIENCE });
    const refused = await call(`${explicit.baseUrl}/api/whoami`, { token: ours });
    expect(refused.status).toBe(401);
    expect(String(refused.json.error_description)).toContain(`expected "${other.issuer}"`);
    const accepted = await call(`${explicit.baseUrl}/api/whoami`, { token: theirs });
    expect(accepted.status).toBe(200);
    expect(accepted.json).toEqual({ login: 'jdoe', issuer: other.issuer });
  });

  it('a hostile iss is shown cut, printable and without quotes', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const iss = `https://evil.example/"\r\nX-Injected: 1\u202e${'a'.repeat(5000)}`;
    const answer = await call(`${app.baseUrl}/api/whoami`, { token: tamper(token, { iss }) });
    expect(answer.status).toBe(401);
    const description = String(answer.json.error_description);
    expect(description).toMatch(/^[\x20-\x7e]+$/);
    expect(description.length).toBeLessThan(400);
    expect(description).toContain('received "https://evil.example/');
    expect(description).not.toContain('\r');
  });
});

describe('untrustedIssuer()', () => {
  it('is printable ASCII, bounded, and quotes the received iss exactly once', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 2000 }),
        fc.string({ maxLength: 300 }),
        (iss, noise) => {
          const text = untrustedIssuer(iss + noise, ['https://auth.cern.ch/auth/realms/cern']);
          expect(text).toMatch(/^[\x20-\x7e]+$/);
          expect(text.length).toBeLessThanOrEqual(260);
          const received = text.slice(text.indexOf('received "') + 'received "'.length, -1);
          expect(received).not.toContain('"');
          expect(received).not.toContain('\\');
        },
      ),
      { numRuns: 200 },
    );
  });
});
