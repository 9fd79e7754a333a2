import { describe, expect, it } from 'vitest';
import {
  DEMO_PASSWORD,
  demoClient,
  seedGroups,
  seedUsers,
  startCernSsoEmulator,
} from 'express-cern-sso/testing';
import { computeUserGroups } from '../../src/testing/memberships.js';
import { EDUGAIN_LOGIN, generateUsers, namedSeedUsers } from '../../src/testing/seed.js';
import { authorize, claimsOf, codeFlow, codeRequest, formAction, pkce, submitLogin } from './helpers.js';

describe('seed data', () => {
  it('has the named users with the expected shapes', () => {
    const byLogin = new Map(seedUsers.map((user) => [user.login, user]));
    expect(byLogin.get('jdoe')).toMatchObject({ personId: 123456, phone: '71234', department: 'IT' });
    expect(byLogin.get('mmartin')?.preferredLanguage).toBe('FR');
    expect(byLogin.get('guest-anna')).toMatchObject({ source: 'external', type: 'Person' });
    expect(byLogin.get('guest-anna')?.personId).toBeUndefined();
    expect(byLogin.get(EDUGAIN_LOGIN)).toMatchObject({ source: 'edugain' });
    expect(EDUGAIN_LOGIN).toContain('/');
    expect(byLogin.get('svc-monitoring')?.type).toBe('Service');
    expect(byLogin.get('kmuller')?.active).toBe(false);
    expect(namedSeedUsers.length).toBeGreaterThanOrEqual(8);
    expect(seedUsers.length).toBe(namedSeedUsers.length + 2500);
    expect(new Set(seedUsers.map((user) => user.login)).size).toBe(seedUsers.length);
    expect(DEMO_PASSWORD).toBe('demo');
  });

  it('is frozen so that tests cannot change it by accident', () => {
    expect(() => {
      (seedUsers[0] as { login: string }).login = 'x';
    }).toThrow(TypeError);
    expect(Object.isFrozen(demoClient.redirectUris)).toBe(true);
  });

  // Deterministic, not timed: performance belongs in bench/, not in tests that a busy CI can fail.
  it('generates deterministic users', () => {
    const a = generateUsers(2500);
    expect(generateUsers(2500)).toEqual(a);
    expect(generateUsers(10, { seed: 2 })).not.toEqual(generateUsers(10));
    expect(a[0]?.login).toBe('user0001');
    expect(a[2499]?.login).toBe('user2500');
    expect(new Set(a.map((user) => user.email)).size).toBe(a.length);
    expect(a.every((user) => user.type === 'Person' && user.personId !== undefined)).toBe(true);
    expect(generateUsers(3, { prefix: 'x', startIndex: 9999 }).map((u) => u.login)).toEqual([
      'x09999',
      'x10000',
      'x10001',
    ]);
  });

  it('computes nested memberships; generated users are CERN staff', () => {
    expect(computeUserGroups(seedGroups, 'admin1')).toEqual([
      'cern-staff',
      'cern-users-demo',
      'it-dep',
      'it-dep-admins',
    ]);
    expect(computeUserGroups(seedGroups, 'user0042')).toEqual(['cern-staff', 'cern-users-demo']);
    expect(computeUserGroups(seedGroups, 'mmartin')).toEqual(
      expect.arrayContaining(['atlas-higgs-wg', 'atlas-physicists', 'cern-staff']),
    );
    expect(computeUserGroups(seedGroups, 'nobody')).toEqual([]);
    const cyclic = [
      { id: 'a', members: ['u'], memberGroups: ['b'] },
      { id: 'b', memberGroups: ['a'] },
    ];
    expect(computeUserGroups(cyclic, 'u')).toEqual(['a', 'b']);
  });
});

describe('live data of a running emulator', () => {
  it('uses copies of the seed and sees later changes to users, groups and clients', async () => {
    const emu = await startCernSsoEmulator({
      users: [{ login: 'alice', firstName: 'Alice', password: 'secret' }],
      groups: [{ id: 'team', members: ['alice'] }],
    });
    try {
      const page = await authorize(emu, codeRequest(pkce().challenge));
      const action = formAction(await page.text(), emu.url);
      expect((await submitLogin(action, 'alice', DEMO_PASSWORD)).status).toBe(401);
      expect((await submitLogin(action, 'alice', 'secret')).status).toBe(302);

      emu.users.push({ login: 'bob', displayName: 'Bob' });
      emu.setAutoLogin('bob');
      const client = emu.clients.get('demo-app');
      if (!client) throw new Error('no demo client');
      client.roles = { bob: ['editor'] };
      client.groupsClaim = true;
      emu.groups.push({ id: 'new-group', members: ['bob'] });
      const { tokens } = await codeFlow(emu);
      expect(claimsOf(tokens.id_token)).toMatchObject({
        sub: 'bob',
        name: 'Bob',
        cern_roles: ['editor'],
        groups: ['new-group'],
      });
      // The shared seed was not touched.
      expect(demoClient.roles).toEqual({ jdoe: ['user'], admin1: ['admin', 'user'] });
    } finally {
      await emu.close();
    }
  });
});
