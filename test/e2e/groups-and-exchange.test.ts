import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const MEMBERSHIP = '/api/v1.0/IdentityMembership';
const JSON_ACCEPT = { accept: 'application/json' };

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
beforeEach(() => {
  emulator.faults.clear();
  emulator.requests.reset();
});

async function signedIn(login: string, target: TestApp = app): Promise<TestBrowser> {
  emulator.setAutoLogin(login);
  const browser = new TestBrowser();
  const page = await browser.navigate(`${target.baseUrl}/login`);
  expect(page.body).toBe(`home of ${login}`);
  return browser;
}

describe('req.sso.exchangeToken (RFC 8693)', () => {
  it('returns a token for the requested audience on behalf of the user', async () => {
    const browser = await signedIn('jdoe');
    const response = await browser.request(`${app.baseUrl}/api/exchange?audience=other-cern-api`, {
      headers: JSON_ACCEPT,
    });
    expect(response.status).toBe(200);
    const claims = (await response.json()) as { aud: string | string[]; sub: string; azp: string };
    expect([claims.aud].flat()).toContain('other-cern-api');
    expect(claims.sub).toBe('jdoe');
    expect(claims.azp).toBe('test-app');
  });

  it('an anonymous request cannot exchange anything', async () => {
    const response = await new TestBrowser().request(`${app.baseUrl}/api/exchange?audience=x`, {
      headers: JSON_ACCEPT,
    });
    expect(response.status).toBe(401);
  });
});

describe('requireGroup through the AuthZ API', () => {
  it('members pass (case-insensitive, nested groups), others get 403', async () => {
    const admin = await signedIn('admin1');
    expect((await admin.request(`${app.baseUrl}/it-admins`)).status).toBe(200);
    const user = await signedIn('jdoe');
    const denied = await user.request(`${app.baseUrl}/it-admins`, { headers: JSON_ACCEPT });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: 'ERR_FORBIDDEN' });
  });

  it('anonymous browsers are sent to login, API clients get 401', async () => {
    const browser = new TestBrowser();
    const page = await browser.request(`${app.baseUrl}/it-admins`);
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?returnTo=%2Fit-admins');
    expect((await browser.request(`${app.baseUrl}/it-admins`, { headers: JSON_ACCEPT })).status).toBe(401);
  });

  it('AuthZ API down and nothing cached: 503 with Retry-After, then answers as soon as it is back', async () => {
    const browser = await signedIn('mmartin');
    emulator.faults.set(MEMBERSHIP, { status: 503 });
    const down = await browser.request(`${app.baseUrl}/it-admins`, { headers: JSON_ACCEPT });
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await down.json()).toMatchObject({ error: 'ERR_UPSTREAM_UNAVAILABLE' });
    emulator.faults.clear();
    const back = await browser.request(`${app.baseUrl}/it-admins`, { headers: JSON_ACCEPT });
    expect(back.status).toBe(403);
  });

  it('a warm cache answers without calling the AuthZ API', async () => {
    const browser = await signedIn('admin1');
    await browser.request(`${app.baseUrl}/it-admins`);
    emulator.requests.reset();
    for (let i = 0; i < 5; i++) expect((await browser.request(`${app.baseUrl}/it-admins`)).status).toBe(200);
    expect(emulator.requests.count(MEMBERSHIP)).toBe(0);
  });

  it('a groups claim in the ID token is used instead of the AuthZ API', async () => {
    const claimApp = await startTestApp(emulator, { clientId: 'groups-claim-app' });
    try {
      const registered = emulator.clients.get('groups-claim-app');
      expect(registered).toBeDefined();
      emulator.registerClient({ ...registered!, groupsClaim: true });
      const browser = await signedIn('admin1', claimApp);
      emulator.faults.set(MEMBERSHIP, { status: 503 });
      emulator.requests.reset();
      expect((await browser.request(`${claimApp.baseUrl}/it-admins`)).status).toBe(200);
      expect(emulator.requests.count(MEMBERSHIP)).toBe(0);
    } finally {
      await claimApp.close();
    }
  });
});
