import { describe, expect, it } from 'vitest';
import { EDUGAIN_LOGIN } from '../../src/testing/seed.js';
import { API_TOKEN, makeProvider, MEMBERSHIP, rejectionOf, useEmulatorAndProvider } from './helpers.js';

const env = useEmulatorAndProvider({ cernUsersGroup: 'cern-users-demo' });

describe('getUserGroups', () => {
  it('returns the precomputed groups (nested included) and caches them: a fresh hit makes no HTTP call', async () => {
    const groups = await env.setup.identity.getUserGroups('jdoe');
    expect(groups).toEqual(expect.arrayContaining(['it-dep', 'it-monitoring-services', 'cern-staff']));
    expect(env.emulator.requests.count(MEMBERSHIP)).toBe(1);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(1);

    env.emulator.requests.reset();
    expect(await env.setup.identity.getUserGroups('jdoe')).toEqual(groups);
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('an unknown login (404) has no groups', async () => {
    expect(await env.setup.identity.getUserGroups('nobody-here')).toEqual([]);
    expect(await env.setup.identity.isMember('nobody-here', 'it-dep')).toBe(false);
  });

  it('drops bogus `name|uuid` entries', async () => {
    env.emulator.groups.push({ id: 'bogus-group|7d1c6a2e-uuid', members: ['jdoe'] });
    try {
      const groups = await env.setup.identity.getUserGroups('jdoe');
      expect(groups.some((group) => group.includes('|'))).toBe(false);
      expect(groups).toContain('it-dep');
    } finally {
      env.emulator.groups.pop();
    }
  });

  it('adds the `CERN Users` alias for members of cernUsersGroup, case-insensitively', async () => {
    expect(await env.setup.identity.getUserGroups('jdoe')).toContain('CERN Users');
    expect(await env.setup.identity.getUserGroups('lnguyen')).toContain('CERN Users');
    expect(await env.setup.identity.getUserGroups('guest-anna')).not.toContain('CERN Users');
    expect(await env.setup.identity.isMember('jdoe', 'cern users')).toBe(true);
    expect(await env.setup.identity.isMember('guest-anna', 'CERN Users')).toBe(false);

    const upper = makeProvider(env.emulator, { cernUsersGroup: 'CERN-USERS-DEMO' });
    expect(await upper.identity.getUserGroups('lnguyen')).toContain('CERN Users');
    const none = makeProvider(env.emulator);
    expect(await none.identity.getUserGroups('lnguyen')).not.toContain('CERN Users');
    await Promise.all([upper.identity.close(), none.identity.close()]);
  });

  it('isMember compares case-insensitively', async () => {
    expect(await env.setup.identity.isMember('jdoe', 'IT-Dep')).toBe(true);
    expect(await env.setup.identity.isMember('jdoe', 'atlas-physicists')).toBe(false);
  });

  it('sends a `/` in a login as %2F', async () => {
    const groups = await env.setup.identity.getUserGroups(EDUGAIN_LOGIN);
    expect(groups).toEqual(
      expect.arrayContaining(['atlas-higgs-wg', 'atlas-physicists', 'edugain-collaborators']),
    );
    const paths = env.emulator.requests.log
      .map((entry) => entry.path)
      .filter((path) => path.startsWith(MEMBERSHIP));
    expect(paths).toEqual([`${MEMBERSHIP}/edugain.uni-example.it%2Fsrossi/precomputed`]);
  });

  it('single flight: 200 concurrent cold calls make 1 membership request and 1 token request', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, () => env.setup.identity.getUserGroups('mmartin')),
    );
    expect(new Set(results.map((groups) => groups.join(','))).size).toBe(1);
    expect(results[0]).toContain('cern-staff');
    expect(env.emulator.requests.count(MEMBERSHIP)).toBe(1);
    expect(env.emulator.requests.count(API_TOKEN)).toBeLessThanOrEqual(1);
  });

  it('returns copies: callers cannot corrupt the cache', async () => {
    const first = await env.setup.identity.getUserGroups('jdoe');
    first.length = 0;
    expect(await env.setup.identity.getUserGroups('jdoe')).toContain('it-dep');
  });

  it('a 401 from the API drops the cached token, gets a new one and retries once', async () => {
    await env.setup.identity.getUserGroups('admin1');
    const firstToken = await env.setup.identity.getApiToken();
    env.emulator.requests.reset();
    env.emulator.faults.set(MEMBERSHIP, { status: 401, times: 1 });

    expect(await env.setup.identity.getUserGroups('mmartin')).toContain('cern-staff');
    expect(env.emulator.requests.count(MEMBERSHIP)).toBe(2);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(1);
    expect(await env.setup.identity.getApiToken()).not.toBe(firstToken);
  });

  it('a persistent 401 is retried only once, then a clear configuration error', async () => {
    env.emulator.faults.set(MEMBERSHIP, { status: 401 });
    const error = await rejectionOf(env.setup.identity.getUserGroups('jdoe'));
    expect(error).toMatchObject({ code: 'ERR_CONFIG', status: 500 });
    expect((error as Error).message).toMatch(/refused the application's API token \(HTTP 401/);
    expect(env.emulator.requests.count(MEMBERSHIP)).toBe(2);
  });

  it('seedUserGroups stores groups as fresh data (no API call), dropping `|` entries', async () => {
    await env.setup.identity.seedUserGroups('jdoe', ['from-token', 'junk|uuid', 'cern-users-demo']);
    expect(await env.setup.identity.getUserGroups('jdoe')).toEqual([
      'from-token',
      'cern-users-demo',
      'CERN Users',
    ]);
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('validates inputs with clear 400 errors', async () => {
    for (const bad of ['', '   ', '..', 'a\nb']) {
      const error = await rejectionOf(env.setup.identity.getUserGroups(bad));
      expect(error).toMatchObject({ code: 'ERR_BAD_REQUEST', status: 400 });
      expect((error as Error).message).toMatch(/^getUserGroups: login/);
    }
    await expect(env.setup.identity.isMember('jdoe', '')).rejects.toThrow(
      /isMember: group must not be empty/,
    );
    await expect(env.setup.identity.seedUserGroups('jdoe', 'it-dep' as unknown as string[])).rejects.toThrow(
      /groups must be an array/,
    );
    expect(env.emulator.requests.log).toHaveLength(0);
  });
});
