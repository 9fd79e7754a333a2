import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CernSsoEmulator } from '../../src/testing/index.js';
import { identityId } from '../../src/testing/authz/index.js';
import { EDUGAIN_LOGIN, GENERATED_USER_COUNT } from '../../src/testing/seed.js';
import type { CernIdentity } from '../../src/identity/types.js';
import { API, makeProvider, rejectionOf, startEmulator, type ProviderSetup } from './helpers.js';

const IDENTITY = `${API}/Identity`;

let emulator: CernSsoEmulator;
let setup: ProviderSetup;

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
  setup = makeProvider(emulator);
});
afterEach(async () => {
  await setup.identity.close();
});

const logins = (users: readonly CernIdentity[]): string[] => users.map((user) => user.login).sort();

describe('getUser', () => {
  it('maps the identity (with its AuthZ id), prefixing internal phone numbers', async () => {
    expect(await setup.identity.getUser('jdoe')).toEqual({
      id: identityId('jdoe'),
      login: 'jdoe',
      firstName: 'John',
      lastName: 'Doe',
      displayName: 'John Doe',
      email: 'john.doe@cern.ch',
      affiliation: 'CERN',
      phone: '+41227671234',
      personId: 123456,
    });
  });

  it('uses the configured phonePrefix', async () => {
    const other = makeProvider(emulator, { phonePrefix: '+41227' });
    expect((await other.identity.getUser('lnguyen'))?.phone).toBe('+4122761122');
    await other.identity.close();
  });

  it('omits what a guest does not have; handles `/` logins', async () => {
    const guest = await setup.identity.getUser('guest-anna');
    expect(guest).toMatchObject({ login: 'guest-anna', affiliation: 'Guest' });
    expect(guest).not.toHaveProperty('personId');
    expect(guest).not.toHaveProperty('phone');
    expect(await setup.identity.getUser(EDUGAIN_LOGIN)).toMatchObject({
      login: EDUGAIN_LOGIN,
      lastName: 'Rossi',
    });
  });

  it('returns null for an unknown login, and caches the answer', async () => {
    expect(await setup.identity.getUser('nobody-here')).toBeNull();
    expect(await setup.identity.getUser('nobody-here')).toBeNull();
    expect(emulator.requests.count(`${IDENTITY}/nobody-here`)).toBe(1);
  });
});

describe('searchUsers', () => {
  it('searches with contains by default, only persons (type:eq:Person)', async () => {
    const { users, total } = await setup.identity.searchUsers({ login: 'svc-' });
    expect(users).toEqual([]);
    expect(total).toBe(0);
    const doe = await setup.identity.searchUsers({ lastName: 'doe' });
    expect(logins(doe.users)).toContain('jdoe');
  });

  it('exact uses eq', async () => {
    const exact = await setup.identity.searchUsers({ login: 'jdoe' }, { exact: true });
    expect(logins(exact.users)).toEqual(['jdoe']);
    expect(await setup.identity.searchUsers({ login: 'jdo' }, { exact: true })).toEqual({
      users: [],
      total: 0,
    });
  });

  it('several values of one criterion = separate queries, merged and de-duplicated', async () => {
    const result = await setup.identity.searchUsers({ login: ['jdoe', 'mmartin', 'JDOE', 'j'] });
    const found = logins(result.users);
    expect(new Set(found).size).toBe(found.length);
    expect(found).toEqual(expect.arrayContaining(['jdoe', 'mmartin']));
    // Three distinct values (JDOE == jdoe): three API queries, ANDed with type:eq:Person each.
    expect(emulator.requests.count(IDENTITY)).toBe(3);
    expect(result.total).toBe(found.length);
  });

  it('with no limit returns every match across pages', async () => {
    const result = await setup.identity.searchUsers({ email: '@cern.ch' });
    expect(result.users.length).toBeGreaterThan(GENERATED_USER_COUNT);
    expect(result.total).toBe(result.users.length);
    expect(new Set(logins(result.users)).size).toBe(result.users.length);
    expect(emulator.requests.count(IDENTITY)).toBeGreaterThan(1);
  });

  it('limit caps the result; total still reports every known match', async () => {
    const result = await setup.identity.searchUsers({ email: '@cern.ch' }, { limit: 7 });
    expect(result.users).toHaveLength(7);
    expect(result.total).toBeGreaterThan(GENERATED_USER_COUNT);
    expect(emulator.requests.count(IDENTITY)).toBe(1);
  });

  it('adds extraSearchFilters to every query', async () => {
    const cernOnly = makeProvider(emulator, { extraSearchFilters: ['source:eq:edugain'] });
    const result = await cernOnly.identity.searchUsers({ lastName: ['Rossi', 'Doe'] });
    expect(logins(result.users)).toEqual([EDUGAIN_LOGIN]);
    await cernOnly.identity.close();
  });

  it('caches results', async () => {
    await setup.identity.searchUsers({ firstName: 'John' });
    await setup.identity.searchUsers({ firstName: 'John' });
    expect(emulator.requests.count(IDENTITY)).toBe(1);
  });

  it('rejects bad criteria and options with 400', async () => {
    await expect(setup.identity.searchUsers({})).rejects.toMatchObject({ status: 400 });
    await expect(setup.identity.searchUsers({ login: 'x' }, { limit: 0 })).rejects.toThrow(
      /limit must be a positive/,
    );
    expect(emulator.requests.log).toHaveLength(0);
  });

  it('a filter the API rejects is a 400 with its explanation', async () => {
    const bad = makeProvider(emulator, { extraSearchFilters: ['noSuchField:eq:x'] });
    const error = await rejectionOf(bad.identity.searchUsers({ login: 'jdoe' }));
    expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
    expect((error as Error).message).toMatch(/noSuchField/);
    await bad.identity.close();
  });
});

describe('groups', () => {
  it('searchGroups: contains by default, exact with eq', async () => {
    expect((await setup.identity.searchGroups('it-dep')).sort()).toEqual(['it-dep', 'it-dep-admins']);
    expect(await setup.identity.searchGroups('IT-DEP', { exact: true })).toEqual(['it-dep']);
    expect(await setup.identity.searchGroups('no-such-group-at-all')).toEqual([]);
  });

  it('getGroupMembers reads every page of a large group (several thousand rows)', async () => {
    const members = await setup.identity.getGroupMembers('cern-staff');
    expect(members.length).toBeGreaterThan(GENERATED_USER_COUNT);
    expect(new Set(logins(members)).size).toBe(members.length);
    expect(logins(members)).toEqual(expect.arrayContaining(['mmartin', 'jdoe', 'admin1']));
    expect(emulator.requests.count(`${API}/Group/cern-staff`)).toBeGreaterThanOrEqual(3);
    const jdoe = members.find((member) => member.login === 'jdoe');
    expect(jdoe?.phone).toBe('+41227671234');
  });

  it('getGroupMembers of an unknown group is []', async () => {
    expect(await setup.identity.getGroupMembers('no-such-group')).toEqual([]);
  });

  it('iterateGroups lists groups with names and descriptions', async () => {
    const groups = [];
    for await (const group of setup.identity.iterateGroups(['groupIdentifier:startswith:it-']))
      groups.push(group);
    expect(groups.map((group) => group.id).sort()).toEqual([
      'it-dep',
      'it-dep-admins',
      'it-monitoring-services',
    ]);
    expect(groups.find((group) => group.id === 'it-dep')).toEqual({
      id: 'it-dep',
      displayName: 'IT Department',
      description: 'All members of the IT department',
    });
  });
});

describe('iterateIdentities', () => {
  it('pages through every identity (not cached)', async () => {
    const seen = new Set<string>();
    for await (const identity of setup.identity.iterateIdentities()) seen.add(identity.login);
    expect(seen.size).toBe(emulator.users.length);
    expect(emulator.requests.count(IDENTITY)).toBe(Math.ceil(emulator.users.length / 1000));
    const filtered: CernIdentity[] = [];
    for await (const identity of setup.identity.iterateIdentities(['upn:eq:jdoe'])) filtered.push(identity);
    expect(filtered).toEqual([expect.objectContaining({ login: 'jdoe', displayName: 'John Doe' })]);
    expect(emulator.requests.count(IDENTITY)).toBe(Math.ceil(emulator.users.length / 1000) + 1);
  });

  it('modificationTime:gt:<date> yields only the identities changed since then (sync jobs)', async () => {
    const changed = ['jdoe', 'mmartin'];
    const previous = new Map<string, string | undefined>();
    for (const user of emulator.users) {
      if (!changed.includes(user.login)) continue;
      previous.set(user.login, user.modificationTime);
      user.modificationTime = '2025-06-01T10:00:00Z';
    }
    try {
      const seen: CernIdentity[] = [];
      for await (const identity of setup.identity.iterateIdentities([
        'modificationTime:gt:2025-01-01T00:00:00Z',
      ]))
        seen.push(identity);
      expect(logins(seen)).toEqual(changed);
      // Nothing changed after the change itself.
      const later: CernIdentity[] = [];
      for await (const identity of setup.identity.iterateIdentities([
        'modificationTime:gt:2025-06-01T10:00:00Z',
      ]))
        later.push(identity);
      expect(later).toEqual([]);
    } finally {
      for (const user of emulator.users) {
        if (!previous.has(user.login)) continue;
        const before = previous.get(user.login);
        if (before === undefined) delete user.modificationTime;
        else user.modificationTime = before;
      }
    }
  });

  it('a failure on a later page rejects the iteration with 503 after the rows of page 1', async () => {
    expect(emulator.users.length).toBeGreaterThan(1000); // at least two pages
    let yielded = 0;
    const error = await rejectionOf(
      (async () => {
        for await (const _identity of setup.identity.iterateIdentities()) {
          // Page 1 arrived; from now on the directory is down (the next-page request fails).
          // Retry-After: 0 keeps the retries (3, then give up) from waiting.
          if (++yielded === 1) emulator.faults.set(IDENTITY, { status: 503, retryAfterSec: 0 });
        }
      })(),
    );
    expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(yielded).toBe(1000);
    const pages = emulator.requests.log.filter((entry) => entry.path === IDENTITY);
    expect(pages.length).toBe(1 + 4); // page 1, then page 2 tried once and retried 3 times
  });

  it('can stop early', async () => {
    let count = 0;
    for await (const _identity of setup.identity.iterateIdentities()) if (++count === 5) break;
    expect(emulator.requests.count(IDENTITY)).toBe(1);
  });

  it('validates filters at the call', () => {
    expect(() => setup.identity.iterateIdentities(['not a filter'])).toThrow(/expected "field:op:value"/);
  });

  it('an outage mid-way rejects the iteration with 503', async () => {
    emulator.faults.set(IDENTITY, { status: 503, retryAfterSec: 0 });
    const error = await rejectionOf(
      (async () => {
        for await (const _identity of setup.identity.iterateIdentities()) {
          /* consume */
        }
      })(),
    );
    expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });
});
