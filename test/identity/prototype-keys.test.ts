import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CernSsoError } from '../../src/errors.js';
import { userSearchHandler } from '../../src/identity/user-search-handler.js';
import type { CernSsoEmulator } from '../../src/testing/index.js';
import { makeProvider, rejectionOf, startEmulator, type ProviderSetup } from './helpers.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

let emulator: CernSsoEmulator;
let setup: ProviderSetup;

function app(queryParser?: 'extended'): Express {
  const server = express();
  if (queryParser) server.set('query parser', queryParser);
  server.use((req, _res, next) => {
    Object.assign(req, { sso: { isAuthenticated: () => true } });
    next();
  });
  server.get('/api/users', userSearchHandler(setup.identity));
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

describe('identity provider: prototype names as logins, groups and criteria', () => {
  it('getUser / getUserGroups / isMember / getGroupMembers / searchGroups answer "nothing"', async () => {
    const { identity } = setup;
    for (const name of PROTOTYPE_NAMES) {
      expect(await identity.getUser(name)).toBeNull();
      expect(await identity.getUserGroups(name)).toEqual([]);
      expect(await identity.getGroupMembers(name)).toEqual([]);
      expect(await identity.searchGroups(name)).toEqual([]);
      expect(await identity.searchUsers({ login: name }, { exact: true })).toEqual({ users: [], total: 0 });
    }
    expect(await identity.isMember('toString', 'valueOf')).toBe(false);
    expect(await identity.isMember('jdoe', 'constructor')).toBe(false);
    expect(await identity.isMember('__proto__', 'hasOwnProperty')).toBe(false);
  });

  it('a criterion named like a prototype member is a 400, not a lookup', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const criteria: unknown = JSON.parse(`{"${name}": "jdoe"}`);
      const error = await rejectionOf(setup.identity.searchUsers(criteria as { login: string }));
      expect(error).toBeInstanceOf(CernSsoError);
      expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
      expect((error as Error).message).toContain(`unknown criterion "${name}"`);
    }
  });

  it('cache entries keyed by prototype names work like any other (seed, then read back)', async () => {
    await setup.identity.seedUserGroups('__proto__', ['it-dep', 'constructor']);
    expect(await setup.identity.getUserGroups('__proto__')).toEqual(['it-dep', 'constructor']);
    expect(await setup.identity.isMember('__proto__', 'constructor')).toBe(true);
    expect(await setup.identity.isMember('__proto__', 'toString')).toBe(false);
  });

  it('control characters and lone surrogates are a 400, not a URIError (500) or a changed query', async () => {
    for (const bad of ['\ud800', 'jdoe\udc00', 'a\r\nb', 'x\u202ey', 'a\u0085b']) {
      for (const call of [
        () => setup.identity.getUser(bad),
        () => setup.identity.getUserGroups(bad),
        () => setup.identity.searchUsers({ lastName: bad }),
        () => setup.identity.searchGroups(bad),
        () => Promise.resolve().then(() => setup.identity.iterateIdentities([`upn:eq:${bad}`])),
      ]) {
        expect(await rejectionOf(call())).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
      }
    }
  });

  it("a filter on a field of a prototype name is the API's 400, passed on as ERR_BAD_REQUEST", async () => {
    const iterator = setup.identity.iterateIdentities(['__proto__:eq:x']);
    const error = await rejectionOf(iterator[Symbol.asyncIterator]().next());
    expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
  });
});

describe('userSearchHandler over HTTP: prototype names and odd query shapes', () => {
  it('?login=__proto__ (no q) is a 400; q of a prototype name is an empty result', async () => {
    const missing = await request(app()).get('/api/users?login=__proto__');
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    for (const name of PROTOTYPE_NAMES) {
      const res = await request(app()).get(`/api/users?q=${name}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ users: [] });
    }
    const withProto = await request(app()).get('/api/users?__proto__=x&constructor=y&q=jdoe');
    expect(withProto.status).toBe(200);
    expect(withProto.body.users).toEqual([expect.objectContaining({ login: 'jdoe' })]);
  });

  it('a repeated or nested q is a 400 saying so, with the simple and the extended query parser', async () => {
    for (const parser of [undefined, 'extended'] as const) {
      const repeated = await request(app(parser)).get('/api/users?q=constructor&q=toString');
      expect(repeated.status).toBe(400);
      expect(repeated.body.error_description).toMatch(/once/);
      const nested = await request(app(parser)).get('/api/users?q[__proto__]=jdoe&q[toString]=x');
      expect(nested.status).toBe(400);
    }
  });

  it('control characters in q are a 400', async () => {
    const res = await request(app()).get('/api/users?q=abc%0d%0a%5BERROR%5D');
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(/control characters/);
  });
});
