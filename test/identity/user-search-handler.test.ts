import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CernIdentity } from '../../src/identity/types.js';
import { userSearchHandler } from '../../src/identity/user-search-handler.js';
import type { CernSsoEmulator } from '../../src/testing/index.js';
import { API, makeProvider, startEmulator, type ProviderSetup } from './helpers.js';

let emulator: CernSsoEmulator;
let setup: ProviderSetup;

/** An app where `x-test-user: yes` marks the request as logged in (stands in for cernSso()). */
function app(options: Parameters<typeof userSearchHandler>[1] = {}): Express {
  const server = express();
  server.use((req, _res, next) => {
    const loggedIn = req.headers['x-test-user'] === 'yes';
    Object.assign(req, { sso: { isAuthenticated: () => loggedIn } });
    next();
  });
  server.get('/api/users', userSearchHandler(setup.identity, options));
  return server;
}

beforeAll(async () => {
  emulator = await startEmulator();
  setup = makeProvider(emulator);
});
afterAll(async () => {
  await setup.identity.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.faults.clear();
  emulator.requests.reset();
});

describe('userSearchHandler', () => {
  it('requires login by default: 401 JSON', async () => {
    const res = await request(app()).get('/api/users?q=john');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'ERR_NOT_AUTHENTICATED' });
    expect(emulator.requests.log).toHaveLength(0);
  });

  it('also answers 401 when cernSso() is not mounted at all', async () => {
    const bare = express();
    bare.get('/api/users', userSearchHandler(setup.identity));
    expect((await request(bare).get('/api/users?q=john')).status).toBe(401);
  });

  it('finds users by login, display name or e-mail, merged and de-duplicated, at most `limit`', async () => {
    const byName = await request(app()).get('/api/users?q=marie').set('x-test-user', 'yes');
    expect(byName.status).toBe(200);
    expect(byName.headers['cache-control']).toMatch(/no-store/);
    const users = byName.body.users as CernIdentity[];
    expect(users.map((user) => user.login)).toContain('mmartin');
    expect(new Set(users.map((user) => user.login)).size).toBe(users.length);
    expect(users.length).toBeLessThanOrEqual(10);

    const byLogin = await request(app()).get('/api/users?q=jdoe').set('x-test-user', 'yes');
    expect(byLogin.body.users).toEqual([expect.objectContaining({ login: 'jdoe', phone: '+41227671234' })]);

    const byEmail = await request(app()).get('/api/users?q=linh.nguyen@').set('x-test-user', 'yes');
    expect((byEmail.body.users as CernIdentity[]).map((user) => user.login)).toEqual(['lnguyen']);

    const many = await request(app({ limit: 4 }))
      .get('/api/users?q=cern.ch')
      .set('x-test-user', 'yes');
    expect(many.body.users).toHaveLength(4);
  });

  it('rejects a short or missing q with 400 JSON', async () => {
    for (const query of ['?q=jd', '?q=%20%20jd%20', '']) {
      const res = await request(app()).get(`/api/users${query}`).set('x-test-user', 'yes');
      expect(res.status).toBe(400);
      expect(res.body.error_description).toMatch(/at least 3 characters/);
    }
    const res = await request(app({ minQueryLength: 5 }))
      .get('/api/users?q=jdoe')
      .set('x-test-user', 'yes');
    expect(res.body.error_description).toMatch(/at least 5 characters/);
    expect(emulator.requests.log).toHaveLength(0);
  });

  it('requireLogin: false allows anonymous searches', async () => {
    const res = await request(app({ requireLogin: false })).get('/api/users?q=jdoe');
    expect(res.status).toBe(200);
  });

  it('an AuthZ outage is a 503 JSON with Retry-After', async () => {
    emulator.faults.set(API, { status: 503 });
    const res = await request(app()).get('/api/users?q=nobody-cached').set('x-test-user', 'yes');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.body).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });

  it('rejects invalid options at construction', () => {
    expect(() => userSearchHandler(setup.identity, { limit: 0 })).toThrow(/limit must be a positive integer/);
  });
});
