import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheStore } from '../../src/cache/types.js';
import { CernSsoError } from '../../src/errors.js';
import { createIdentityProvider } from '../../src/identity/identity-provider.js';
import type { IdentityProvider, UserSearchField } from '../../src/identity/types.js';
import { userSearchHandler } from '../../src/identity/user-search-handler.js';
import { PERSON_FILTER, USER_SEARCH_FIELDS } from '../../src/identity/user-search.js';
import { createAuthzApiRouter } from '../../src/testing/authz/index.js';
import { queryParams } from '../../src/testing/authz/query.js';
import { startCernSsoEmulator, type CernSsoEmulator } from '../../src/testing/index.js';
import { silentLogger } from '../../src/logger.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

/** Search text as people, attackers and broken clients send it. */
const searchText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      ':',
      '&',
      '=',
      '%',
      '/',
      '+',
      '?',
      '#',
      ' ',
      '\t',
      '.',
      ',',
      '*',
      '\\',
      '"',
      "'",
      '\u0000',
      '\r',
      '\n',
      '\u0085',
      '\u2028',
      '\u202e',
      '\ud800',
      '\udc00',
      'é',
      'ü',
      '😀',
      '中',
      'a',
      'Z',
      '7',
      '%2F',
      '%00',
      '..',
      ...PROTOTYPE_NAMES,
    ),
    maxLength: 12,
  }),
  fc.constantFrom(...PROTOTYPE_NAMES),
  // Huge: far beyond the 256-character limit.
  fc.string({ minLength: 1, maxLength: 3 }).map((text) => text.repeat(200)),
);

/** Never stores anything, so every call reaches the API and its query can be checked. */
const noCache: CacheStore = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  delete: () => Promise.resolve(),
};

let emulator: CernSsoEmulator;
let spy: Server;
let identity: IdentityProvider;
/** Filters and path parameters exactly as the emulator's AuthZ router parsed them. */
let seenFilters: string[][] = [];
let seenLogins: string[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  const app = express();
  // The emulator's own parsing of the query (queryParams) and of path segments (Express router).
  app.use('/api/v1.0', (req, _res, next) => {
    seenFilters.push(queryParams(req).getAll('filter'));
    next();
  });
  app.get('/api/v1.0/Identity/:upn', (req, _res, next) => {
    seenLogins.push(req.params.upn);
    next();
  });
  app.use(
    '/api/v1.0',
    createAuthzApiRouter({
      users: () => emulator.users,
      groups: () => emulator.groups,
      verifyApiToken: (token) => emulator.verifyApiToken(token),
    }),
  );
  spy = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => spy.once('listening', resolve));
  identity = createIdentityProvider({
    clientId: 'demo-app',
    clientSecret: 'demo-app-secret',
    issuer: emulator.issuer,
    authzApiUrl: `http://127.0.0.1:${(spy.address() as AddressInfo).port}`,
    cache: noCache,
    logger: silentLogger,
  });
});
afterAll(async () => {
  await identity.close();
  spy.closeAllConnections();
  await new Promise<void>((resolve) =>
    spy.close(() => {
      resolve();
    }),
  );
  await emulator.close();
});

/** A rejection must be the documented 400, never an internal error. */
function expectBadRequest(error: unknown): void {
  expect(error).toBeInstanceOf(CernSsoError);
  expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
}

describe('search criteria and AuthZ filter values (property-based, through the emulated AuthZ API)', () => {
  it('searchUsers: a 400 ERR_BAD_REQUEST, or a query the emulator parses back to exactly the intended filter', async () => {
    const fields = Object.keys(USER_SEARCH_FIELDS) as UserSearchField[];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), searchText, fc.boolean(), async (field, text, exact) => {
        seenFilters = [];
        let result;
        try {
          result = await identity.searchUsers({ [field]: text }, { exact, limit: 5 });
        } catch (error) {
          expectBadRequest(error);
          expect(seenFilters).toEqual([]);
          return;
        }
        expect(Array.isArray(result.users)).toBe(true);
        const intended = `${USER_SEARCH_FIELDS[field]}:${exact ? 'eq' : 'contains'}:${text.trim()}`;
        expect(seenFilters).toEqual([[intended, PERSON_FILTER]]);
      }),
      { numRuns: 100 },
    );
  });

  it('searchGroups: same, with the groupIdentifier filter', async () => {
    await fc.assert(
      fc.asyncProperty(searchText, fc.boolean(), async (text, exact) => {
        seenFilters = [];
        try {
          await identity.searchGroups(text, { exact });
        } catch (error) {
          expectBadRequest(error);
          return;
        }
        expect(seenFilters).toEqual([[`groupIdentifier:${exact ? 'eq' : 'contains'}:${text.trim()}`]]);
      }),
      { numRuns: 100 },
    );
  });

  it('getUser: a 400, or the emulator receives exactly the login as one path segment', async () => {
    await fc.assert(
      fc.asyncProperty(searchText, async (text) => {
        seenLogins = [];
        try {
          await identity.getUser(text);
        } catch (error) {
          expectBadRequest(error);
          return;
        }
        expect(seenLogins).toEqual([text.trim()]);
      }),
      { numRuns: 100 },
    );
  });

  it("iterateIdentities: arbitrary filters are a 400 (ours or the API's), or sent exactly as given", async () => {
    const filter = fc.oneof(
      searchText,
      fc
        .tuple(
          fc.constantFrom('upn', 'displayName', '__proto__', 'x'),
          fc.constantFrom('eq', 'contains', 'gt', 'constructor'),
          searchText,
        )
        .map(([field, op, value]) => `${field}:${op}:${value}`),
    );
    await fc.assert(
      fc.asyncProperty(filter, async (text) => {
        seenFilters = [];
        try {
          for await (const _ of identity.iterateIdentities([text])) break;
        } catch (error) {
          expectBadRequest(error);
          return;
        }
        expect(seenFilters).toEqual([[text]]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('userSearchHandler query parsing over HTTP (property-based)', () => {
  const app = express();
  app.get('/api/users', (req, res, next) => {
    userSearchHandler(identity, { requireLogin: false })(req, res, next);
  });

  it('any q, repeated or not, is a 200 with users or a 400 ERR_BAD_REQUEST, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(searchText, { minLength: 0, maxLength: 3 }), async (values) => {
        const query = new URLSearchParams(values.map((value): [string, string] => ['q', value]));
        const res = await request(app).get(`/api/users?${query.toString()}`);
        expect([200, 400]).toContain(res.status);
        if (res.status === 200) expect(Array.isArray(res.body.users)).toBe(true);
        else
          expect(res.body).toMatchObject({ code: 'ERR_BAD_REQUEST', error_description: expect.any(String) });
      }),
      { numRuns: 60 },
    );
  });

  it('raw query strings with stray %, &, =, [ ] and prototype names never give a 500', async () => {
    const raw = fc.string({
      unit: fc.constantFrom('q', '=', '&', '%', '%2', '%zz', '[', ']', 'a', '.', ...PROTOTYPE_NAMES),
      maxLength: 12,
    });
    for (const parser of ['simple', 'extended'] as const) {
      const parsed = express();
      parsed.set('query parser', parser);
      parsed.use(app);
      await fc.assert(
        fc.asyncProperty(raw, async (text) => {
          const res = await request(parsed).get(`/api/users?${text}`);
          expect([200, 400]).toContain(res.status);
        }),
        { numRuns: 60 },
      );
    }
  });
});
