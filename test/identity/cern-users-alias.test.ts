import { describe, expect, it } from 'vitest';
import { cernUsersAlias } from '../../src/identity/cern-users-alias.js';
import { API, makeProvider, useEmulatorAndProvider } from './helpers.js';

const env = useEmulatorAndProvider({ cernUsersGroup: 'cern-users-demo' });

describe('`CERN Users` alias', () => {
  it('searchGroups finds it when the query is part of the alias name (and the API results too)', async () => {
    expect(await env.setup.identity.searchGroups('cern')).toEqual(
      expect.arrayContaining(['cern-staff', 'cern-users-demo', 'CERN Users']),
    );
    expect(await env.setup.identity.searchGroups('N U')).toEqual(['CERN Users']);
    expect(await env.setup.identity.searchGroups('cern users', { exact: true })).toEqual(['CERN Users']);
    expect(await env.setup.identity.searchGroups('cern', { exact: true })).not.toContain('CERN Users');
    expect(await env.setup.identity.searchGroups('it-dep')).not.toContain('CERN Users');
  });

  it('searchGroups does not add it without cernUsersGroup', async () => {
    const plain = makeProvider(env.emulator);
    expect(await plain.identity.searchGroups('cern users')).not.toContain('CERN Users');
    await plain.identity.close();
  });

  it('getGroupMembers lists the members of cernUsersGroup (nested included), sharing its cache entry', async () => {
    const members = await env.setup.identity.getGroupMembers('CERN Users');
    const logins = members.map((user) => user.login);
    expect(logins).toEqual(expect.arrayContaining(['lnguyen', 'mmartin', 'jdoe', 'admin1']));
    expect(env.emulator.requests.count(`${API}/Group/cern-users-demo/memberidentities`)).toBeGreaterThan(0);
    env.emulator.requests.reset();
    expect(await env.setup.identity.getGroupMembers('cern-users-demo')).toHaveLength(members.length);
    expect(env.emulator.requests.log).toHaveLength(0);
  });

  it('isMember and getGroupMembers agree on the alias', async () => {
    expect(await env.setup.identity.isMember('lnguyen', 'CERN Users')).toBe(true);
    expect(await env.setup.identity.isMember('guest-anna', 'cern users')).toBe(false);
  });

  it('without cernUsersGroup the alias names no group', async () => {
    const plain = makeProvider(env.emulator);
    expect(await plain.identity.getGroupMembers('CERN Users')).toEqual([]);
    await plain.identity.close();
  });

  it('matches Flask-Multipass-CERN: equal, or (not exact) a part of "cern users", case-insensitive', () => {
    const alias = cernUsersAlias('g');
    const table: [string, boolean, boolean][] = [
      ['CERN Users', true, true],
      ['cern users', false, true],
      ['users', false, true],
      ['users', true, false],
      ['ern u', false, true],
      ['cern-users', false, false],
      ['cern userss', false, false],
    ];
    for (const [query, exact, expected] of table) {
      expect(alias.withSearchAlias([], query, exact).includes('CERN Users')).toBe(expected);
    }
    expect(alias.withSearchAlias(['cern users'], 'cern', false)).toEqual(['cern users']);
    expect(cernUsersAlias(undefined).resolve('CERN Users')).toBe('CERN Users');
    expect(alias.resolve('Cern Users')).toBe('g');
    expect(alias.resolve('it-dep')).toBe('it-dep');
  });
});
