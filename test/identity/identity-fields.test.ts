import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { identityId } from '../../src/testing/authz/index.js';
import { memoryCache } from '../../src/cache/memory.js';
import { createIdentityProvider } from '../../src/identity/identity-provider.js';
import { copyIdentity, toCernIdentity } from '../../src/identity/identity-mapping.js';
import { userSearchHandler } from '../../src/identity/user-search-handler.js';
import { makeProvider, rejectionOf, useEmulatorAndProvider } from './helpers.js';

const FIELDS = ['cernDepartment', 'cernGroup', 'cernSection', 'uid', 'gid', 'activeUser', 'source'];

const env = useEmulatorAndProvider({ identityFields: FIELDS, cernUsersGroup: 'cern-users-demo' });

describe('identityFields', () => {
  it('getUser returns the named AuthZ fields raw in `fields`, and the AuthZ id', async () => {
    const user = await env.setup.identity.getUser('jdoe');
    expect(user?.id).toBe(identityId('jdoe'));
    const fields = user?.fields;
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect({ ...fields }).toEqual({
      cernDepartment: 'IT',
      cernGroup: expect.any(String) as unknown,
      cernSection: expect.any(String) as unknown,
      uid: expect.any(Number) as unknown,
      gid: expect.any(Number) as unknown,
      activeUser: true,
      source: 'cern',
    });
  });

  it('absent fields are omitted (a guest has no department or uid)', async () => {
    const guest = await env.setup.identity.getUser('guest-anna');
    expect({ ...guest?.fields }).toEqual({ activeUser: true, source: 'external' });
  });

  it('every lookup and listing carries them: searchUsers, getGroupMembers, iterateIdentities, lookups', async () => {
    const found = await env.setup.identity.searchUsers({ login: 'jdoe' }, { exact: true });
    expect(found.users[0]?.fields?.cernDepartment).toBe('IT');
    const members = await env.setup.identity.getGroupMembers('it-dep');
    expect(members.find((user) => user.login === 'jdoe')?.fields?.cernDepartment).toBe('IT');
    expect((await env.setup.identity.getUserByPersonId(123456))?.fields?.cernDepartment).toBe('IT');
    expect((await env.setup.identity.getUserByEmail('john.doe@cern.ch'))?.fields?.cernDepartment).toBe('IT');
    for await (const identity of env.setup.identity.iterateIdentities(['upn:eq:jdoe'])) {
      expect(identity.fields?.cernDepartment).toBe('IT');
    }
  });

  it('without the option there is no `fields`', async () => {
    const plain = makeProvider(env.emulator);
    expect(await plain.identity.getUser('jdoe')).not.toHaveProperty('fields');
    await plain.identity.close();
  });

  it('providers with different identityFields on one cache store never share identities', async () => {
    const cache = memoryCache();
    const without = makeProvider(env.emulator, { cache });
    const withFields = makeProvider(env.emulator, { cache, identityFields: ['uid'] });
    expect(await without.identity.getUser('jdoe')).not.toHaveProperty('fields');
    expect((await withFields.identity.getUser('jdoe'))?.fields).toHaveProperty('uid');
    await Promise.all([without.identity.close(), withFields.identity.close()]);
  });

  it('a field the API does not know is its 400, as the API explains it', async () => {
    const typo = makeProvider(env.emulator, { identityFields: ['cernDepartmnet'] });
    expect(await rejectionOf(typo.identity.getUser('jdoe'))).toMatchObject({
      code: 'ERR_BAD_REQUEST',
      message: expect.stringContaining('cernDepartmnet') as unknown,
    });
    await typo.identity.close();
  });

  it.each([['__proto__'], ['constructor x'], ['a.b'], ['1abc'], [''], ['field=x'], ['x'.repeat(65)]])(
    'an invalid name (%j) is ERR_CONFIG naming identityFields',
    (bad) => {
      let caught: unknown;
      try {
        createIdentityProvider({
          clientId: 'demo-app',
          clientSecret: 'demo-app-secret',
          issuer: env.emulator.issuer,
          authzApiUrl: env.emulator.authzApiUrl,
          identityFields: [bad],
        });
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'ERR_CONFIG' });
      expect((caught as Error).message + JSON.stringify(caught)).toContain('identityFields');
    },
  );
});

describe('prototype keys from upstream', () => {
  it('upstream keys `__proto__`, `constructor` never pollute or leak: only configured names are copied', () => {
    const row = JSON.parse(
      '{"upn":"x","__proto__":{"polluted":true},"constructor":"c","uid":7,"toString":"t"}',
    ) as unknown;
    const identity = toCernIdentity(row, '', ['uid', 'constructor', 'hasOwnProperty']);
    expect(identity?.fields).toBeDefined();
    const fields = identity?.fields ?? {};
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(Object.keys(fields).sort()).toEqual(['constructor', 'uid']);
    expect(fields.constructor).toBe('c');
    expect('hasOwnProperty' in fields).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(identity).not.toHaveProperty('polluted');
  });

  it('a `fields` object read back from a serialising store is rebuilt without a prototype', () => {
    const fromStore = JSON.parse('{"login":"x","fields":{"__proto__":{"a":1},"uid":7}}') as Parameters<
      typeof copyIdentity
    >[0];
    const copy = copyIdentity(fromStore);
    expect(Object.getPrototypeOf(copy.fields)).toBeNull();
    expect(copy.fields?.uid).toBe(7);
    // A missing name reads undefined, not Object.prototype's member.
    expect(copy.fields?.constructor).toBeUndefined();
  });
});

describe('userSearchHandler and identityFields', () => {
  it('the autocomplete answer never carries `fields` (they are for the application)', async () => {
    const server = express();
    server.use((req, _res, next) => {
      Object.assign(req, { sso: { isAuthenticated: () => true } });
      next();
    });
    server.get('/api/users', userSearchHandler(env.setup.identity));
    const res = await request(server).get('/api/users?q=jdoe');
    expect(res.status).toBe(200);
    const users = (res.body as { users: Record<string, unknown>[] }).users;
    expect(users.map((user) => user.login)).toContain('jdoe');
    expect(users.every((user) => !Object.hasOwn(user, 'fields'))).toBe(true);
  });
});
