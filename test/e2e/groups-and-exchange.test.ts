import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { requireGroup } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { computeUserGroups } from '../../src/testing/memberships.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const MEMBERSHIP = '/api/v1.0/IdentityMembership';
const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
let app: TestApp;

/** Routes exercising `match` and `req.sso.inGroup()` (the seed's memberships are in the comments). */
function groupRoutes(express: Express): void {
  // admin1: all three (it-dep-admins ⊂ it-dep ⊂ cern-staff); jdoe: not it-dep-admins.
  express.get(
    '/groups/all',
    requireGroup(['it-dep', 'CERN-Staff', 'IT-DEP-ADMINS'], { match: 'all' }),
    (_req, res) => {
      res.send('all');
    },
  );
  // jdoe: it-dep + it-monitoring-services; admin1: it-dep only; mmartin: atlas-physicists only.
  express.get(
    '/groups/two-of-three',
    requireGroup(['it-dep', 'atlas-physicists', 'it-monitoring-services'], { match: 2 }),
    (_req, res) => {
      res.send('two of three');
    },
  );
  // jdoe: it-monitoring-services; mmartin: atlas-physicists (through atlas-higgs-wg); admin1: none.
  express.get('/groups/any', requireGroup(['ATLAS-Physicists', 'It-Monitoring-Services']), (_req, res) => {
    res.send('any');
  });
  express.get('/groups/in-group', async (req, res) => {
    const groups = (typeof req.query.groups === 'string' ? req.query.groups : '').split(',');
    const raw = typeof req.query.match === 'string' ? req.query.match : 'any';
    const match = raw === 'any' || raw === 'all' ? raw : Number(raw);
    res.json({ member: await req.sso.inGroup(groups, { match }) });
  });
}

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { routes: groupRoutes });
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
    expect(await denied.json()).toMatchObject({ code: 'ERR_FORBIDDEN' });
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
    expect(await down.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
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

describe('seeding the groups cache from the ID token at login', () => {
  it("getUserGroups() answers the claim's groups with the AuthZ membership API down", async () => {
    const claimApp = await startTestApp(emulator, { clientId: 'groups-seed-app' });
    try {
      emulator.registerClient({ ...emulator.clients.get('groups-seed-app')!, groupsClaim: true });
      await signedIn('admin1', claimApp);
      emulator.faults.set(MEMBERSHIP, { status: 503 });
      emulator.requests.reset();
      const groups = await claimApp.sso.identity.getUserGroups('admin1');
      expect([...groups].sort()).toEqual(computeUserGroups(emulator.groups, 'admin1').sort());
      expect(groups).toContain('it-dep-admins');
      expect(emulator.requests.count(MEMBERSHIP)).toBe(0);
      // Not seeded for users who did not sign in: the fault is seen.
      await expect(claimApp.sso.identity.getUserGroups('jdoe')).rejects.toMatchObject({ status: 503 });
    } finally {
      await claimApp.close();
    }
  });
});

describe('requireGroup match modes and req.sso.inGroup() over HTTP', () => {
  const status = async (browser: TestBrowser, path: string) =>
    (await browser.request(`${app.baseUrl}${path}`, { headers: JSON_ACCEPT })).status;

  it.each<[string, string, number]>([
    ['admin1', '/groups/all', 200],
    ['jdoe', '/groups/all', 403],
    ['jdoe', '/groups/two-of-three', 200],
    ['admin1', '/groups/two-of-three', 403],
    ['mmartin', '/groups/two-of-three', 403],
    ['jdoe', '/groups/any', 200],
    ['mmartin', '/groups/any', 200],
    ['admin1', '/groups/any', 403],
  ])('%s on %s: %i', async (login, path, expected) => {
    expect(await status(await signedIn(login), path)).toBe(expected);
  });

  it.each<[string, string, string, boolean]>([
    ['jdoe', 'CERN-STAFF', 'any', true],
    ['jdoe', 'It-Dep,IT-MONITORING-SERVICES', 'all', true],
    ['jdoe', 'it-dep,it-dep-admins', 'all', false],
    ['jdoe', 'it-dep,atlas-physicists,cern-staff', '2', true],
    ['jdoe', 'it-dep-admins,atlas-physicists,cern-staff', '2', false],
    ['mmartin', 'it-dep,edugain-collaborators', 'any', false],
  ])('inGroup for %s of %s (match %s): %s', async (login, groups, match, expected) => {
    const browser = await signedIn(login);
    const response = await browser.request(
      `${app.baseUrl}/groups/in-group?groups=${encodeURIComponent(groups)}&match=${match}`,
      { headers: JSON_ACCEPT },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ member: expected });
  });

  it('inGroup is false for anonymous requests (no AuthZ call), and the guards send them to login', async () => {
    const anonymous = new TestBrowser();
    emulator.requests.reset();
    const response = await anonymous.request(`${app.baseUrl}/groups/in-group?groups=it-dep&match=any`, {
      headers: JSON_ACCEPT,
    });
    expect(await response.json()).toEqual({ member: false });
    expect(emulator.requests.count(MEMBERSHIP)).toBe(0);
    expect(await status(anonymous, '/groups/all')).toBe(401);
  });
});
