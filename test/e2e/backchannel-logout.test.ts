import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };
let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { clientId: 'bcl-app' });
  const client = emulator.clients.get('bcl-app')!;
  emulator.registerClient({ ...client, backchannelLogoutUri: `${app.baseUrl}/oidc/backchannel-logout` });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

async function signedIn(login: string): Promise<TestBrowser> {
  emulator.setAutoLogin(login);
  const browser = new TestBrowser();
  expect((await browser.navigate(`${app.baseUrl}/login`)).body).toBe(`home of ${login}`);
  return browser;
}

async function postLogoutToken(token: string | undefined): Promise<Response> {
  return fetch(`${app.baseUrl}/oidc/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString(),
  });
}

describe('back-channel logout', () => {
  it('a logout at the IdP ends the session in the app', async () => {
    const browser = await signedIn('jdoe');
    const other = await signedIn('mmartin');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
    emulator.requests.reset();
    await emulator.endSsoSessions('jdoe');
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
    expect(me.status).toBe(401);
    // Other users' sessions are untouched.
    expect((await other.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });

  it('a later login of the same user is not affected by an old logout', async () => {
    const browser = await signedIn('admin1');
    await emulator.endSsoSessions('admin1');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
    const again = await signedIn('admin1');
    expect((await again.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });

  it.each([
    ['no logout_token', undefined, /logout_token is required/],
    ['garbage', 'not-a-jwt', /invalid logout_token/],
    ['an access token (no back-channel event)', 'ACCESS', /back-channel logout event|invalid logout_token/],
  ])('answers 400 with a reason for %s', async (_name, token, reason) => {
    const value =
      token === 'ACCESS'
        ? await emulator.issueAccessToken('jdoe', { clientId: 'bcl-app', audience: 'bcl-app' })
        : token;
    const response = await postLogoutToken(value);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(reason);
  });
});
