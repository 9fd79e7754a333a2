import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupId, identityId } from '../../src/testing/authz/index.js';
import { requireEmail, requirePersonId } from '../../src/identity/lookups.js';
import {
  API,
  fakeClock,
  makeProvider,
  rejectionOf,
  startEmulator,
  useEmulatorAndProvider,
} from './helpers.js';

const IDENTITY = `${API}/Identity`;
const GROUP = `${API}/Group`;

const env = useEmulatorAndProvider({ cernUsersGroup: 'cern-users-demo' });

describe('getUserByPersonId', () => {
  it('finds the identity (Identity?filter=personId:eq:N) and caches it: a second call makes no request', async () => {
    const user = await env.setup.identity.getUserByPersonId(123456);
    expect(user).toMatchObject({
      login: 'jdoe',
      id: identityId('jdoe'),
      personId: 123456,
      phone: '+41227671234',
    });
    expect(env.emulator.requests.count(IDENTITY)).toBe(1);

    env.emulator.requests.reset();
    expect(await env.setup.identity.getUserByPersonId('123456')).toEqual(user);
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('an unknown person id is null, cached too', async () => {
    expect(await env.setup.identity.getUserByPersonId(999_999_999)).toBeNull();
    expect(await env.setup.identity.getUserByPersonId(999_999_999)).toBeNull();
    expect(env.emulator.requests.count(IDENTITY)).toBe(1);
  });

  it('concurrent lookups of one person share one request', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => env.setup.identity.getUserByPersonId(234567)),
    );
    expect(results.every((user) => user?.login === 'mmartin')).toBe(true);
    expect(env.emulator.requests.count(IDENTITY)).toBe(1);
  });

  it('hands out copies: changing a result does not change the cache', async () => {
    const first = await env.setup.identity.getUserByPersonId(123456);
    if (first === null) throw new Error('expected jdoe');
    first.login = 'changed';
    expect((await env.setup.identity.getUserByPersonId(123456))?.login).toBe('jdoe');
  });

  it('serves the cached identity while the API is down (stale-if-error)', async () => {
    const clock = fakeClock();
    const timed = makeProvider(env.emulator, { clock });
    await timed.identity.getUserByPersonId(123456);
    clock.advance(31 * 60_000);
    env.emulator.faults.set(API, { status: 503 });
    expect((await timed.identity.getUserByPersonId(123456))?.login).toBe('jdoe');
    expect(timed.logger.warnings.some((line) => line.includes('stale'))).toBe(true);
    await timed.identity.close();
  });

  it('an outage with nothing cached is a 503', async () => {
    env.emulator.faults.set(API, { status: 503 });
    expect(await rejectionOf(env.setup.identity.getUserByPersonId(345678))).toMatchObject({
      status: 503,
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
  });

  it.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, '', 'abc', '12a', ' ', null, undefined, {}])(
    'rejects %j with a 400 ERR_BAD_REQUEST and no request',
    async (bad) => {
      expect(await rejectionOf(env.setup.identity.getUserByPersonId(bad as number))).toMatchObject({
        status: 400,
        code: 'ERR_BAD_REQUEST',
        message: expect.stringContaining('getUserByPersonId') as unknown,
      });
      expect(env.emulator.requests.log).toHaveLength(0);
    },
  );
});

describe('getUserByEmail', () => {
  it('finds the identity (primaryAccountEmail:eq:...) case-insensitively, cached under one key', async () => {
    const user = await env.setup.identity.getUserByEmail('Marie.Martin@CERN.ch');
    expect(user).toMatchObject({ login: 'mmartin', email: 'marie.martin@cern.ch', personId: 234567 });
    expect(env.emulator.requests.count(IDENTITY)).toBe(1);

    env.emulator.requests.reset();
    expect(await env.setup.identity.getUserByEmail(' marie.martin@cern.ch ')).toEqual(user);
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('finds guests and service accounts too; unknown addresses are null (cached)', async () => {
    expect((await env.setup.identity.getUserByEmail('anna.lindqvist@example.com'))?.login).toBe('guest-anna');
    expect((await env.setup.identity.getUserByEmail('svc-monitoring@cern.ch'))?.login).toBe('svc-monitoring');
    expect(await env.setup.identity.getUserByEmail('nobody@cern.ch')).toBeNull();
    expect(await env.setup.identity.getUserByEmail('nobody@cern.ch')).toBeNull();
    expect(env.emulator.requests.count(IDENTITY)).toBe(3);
  });

  it('prefers the Person account when several accounts share the address', async () => {
    const other = await startEmulator({
      users: [
        { login: 'aaa-svc', email: 'shared@cern.ch', type: 'Service', password: 'x' },
        { login: 'zperson', email: 'shared@cern.ch', type: 'Person', personId: 42, password: 'x' },
      ],
    });
    const provider = makeProvider(other);
    try {
      expect(await provider.identity.getUserByEmail('shared@cern.ch')).toMatchObject({ login: 'zperson' });
    } finally {
      await provider.identity.close();
      await other.close();
    }
  });

  it.each([
    '',
    'jdoe',
    'a@b@c',
    'john doe@cern.ch',
    '@cern.ch',
    'jdoe@',
    'a\u0000@cern.ch',
    'x'.repeat(250) + '@cern.ch',
    42,
  ])('rejects %j with a 400 ERR_BAD_REQUEST and no request', async (bad) => {
    expect(await rejectionOf(env.setup.identity.getUserByEmail(bad as string))).toMatchObject({
      status: 400,
      code: 'ERR_BAD_REQUEST',
    });
    expect(env.emulator.requests.log).toHaveLength(0);
  });
});

describe('lookup input validation (property)', () => {
  it('requirePersonId accepts exactly positive safe integers (or their digits) and returns them', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)), (value) => {
        let result: number | undefined;
        try {
          result = requirePersonId('m', value);
        } catch (error) {
          expect(error).toMatchObject({ code: 'ERR_BAD_REQUEST' });
          return;
        }
        expect(Number.isSafeInteger(result) && result > 0).toBe(true);
        expect(String(result)).toBe(
          typeof value === 'string' ? value.trim().replace(/^0+/, '') : String(value),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('requireEmail returns a lower-cased address with one @ and no whitespace, or throws ERR_BAD_REQUEST', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.emailAddress(), fc.string({ unit: 'grapheme' })), (value) => {
        let result: string;
        try {
          result = requireEmail('m', value);
        } catch (error) {
          expect(error).toMatchObject({ code: 'ERR_BAD_REQUEST' });
          return;
        }
        expect(result.split('@')).toHaveLength(2);
        expect(result).not.toMatch(/[\s\p{Cc}]/u);
        expect(result).toBe(value.trim().toLowerCase());
      }),
      { numRuns: 300 },
    );
  });
});

describe('getGroup', () => {
  it('returns the group (GET /Group/{identifier}) with its title and description, cached', async () => {
    expect(await env.setup.identity.getGroup('IT-Dep')).toEqual({
      id: 'it-dep',
      displayName: 'IT Department',
      description: 'All members of the IT department',
    });
    expect(env.emulator.requests.count(`${GROUP}/IT-Dep`)).toBe(1);
    env.emulator.requests.reset();
    expect((await env.setup.identity.getGroup('it-dep'))?.displayName).toBe('IT Department');
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('an unknown group is null (the API answers 404), cached', async () => {
    expect(await env.setup.identity.getGroup('no-such-group')).toBeNull();
    expect(await env.setup.identity.getGroup('no-such-group')).toBeNull();
    expect(env.emulator.requests.count(GROUP)).toBe(1);
  });

  it('omits what the group does not have', async () => {
    expect(await env.setup.identity.getGroup('atlas-higgs-wg')).toEqual({
      id: 'atlas-higgs-wg',
      displayName: 'ATLAS Higgs working group',
    });
  });

  it('`CERN Users` names cernUsersGroup', async () => {
    expect(await env.setup.identity.getGroup('cern users')).toMatchObject({
      id: 'cern-users-demo',
      displayName: 'CERN Users (demo)',
    });
  });

  it('rejects names that are not one path segment', async () => {
    for (const bad of ['', '..', 'a\nb']) {
      expect(await rejectionOf(env.setup.identity.getGroup(bad))).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    }
    expect(env.emulator.requests.log).toHaveLength(0);
  });
});

describe('emulator: GET /Group/{id}', () => {
  it('answers the group by identifier or id, 404 with a message otherwise, with field selection', async () => {
    const token = await env.setup.identity.getApiToken();
    const get = (path: string): Promise<Response> =>
      fetch(`${env.emulator.authzApiUrl}${API}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const byName = await get('/Group/it-dep?field=displayName');
    expect(byName.status).toBe(200);
    expect(await byName.json()).toEqual({ data: { id: groupId('it-dep'), displayName: 'IT Department' } });
    const byId = await get(`/Group/${groupId('it-dep')}`);
    expect(((await byId.json()) as { data: { groupIdentifier: string } }).data.groupIdentifier).toBe(
      'it-dep',
    );
    const missing = await get('/Group/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: "Group 'nope' not found" });
    const badField = await get('/Group/it-dep?field=nope');
    expect(badField.status).toBe(400);
  });
});
