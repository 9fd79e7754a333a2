import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { EDUGAIN_LOGIN } from '../../src/testing/seed.js';
import { AUTHZ_API, cli, emulatorEnv } from './helpers.js';

let emulator: CernSsoEmulator;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  env = emulatorEnv(emulator);
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
});

describe('groups LOGIN', () => {
  it("lists a user's groups, nested included, sorted", async () => {
    const run = await cli(['groups', 'jdoe'], env);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      'jdoe: 4 groups (nested groups included)\n  cern-staff\n  cern-users-demo\n  it-dep\n  it-monitoring-services\n',
    );
  });

  it('--json', async () => {
    const run = await cli(['groups', 'admin1', '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toEqual({
      login: 'admin1',
      found: true,
      groups: ['cern-staff', 'cern-users-demo', 'it-dep', 'it-dep-admins'],
    });
  });

  it('an eduGAIN login with "/" (sent as %2F)', async () => {
    const run = await cli(['groups', EDUGAIN_LOGIN, '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json().groups).toEqual(['atlas-higgs-wg', 'atlas-physicists', 'edugain-collaborators']);
    expect(emulator.requests.count(`${AUTHZ_API}/IdentityMembership/edugain.uni-example.it%2Fsrossi`)).toBe(
      1,
    );
  });

  it('an unknown user: exit 1', async () => {
    const run = await cli(['groups', 'nobody'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('express-cern-sso groups: no such user: nobody\n');
    const json = await cli(['groups', 'nobody', '--json'], env);
    expect(json.code).toBe(1);
    expect(json.json()).toEqual({ login: 'nobody', found: false, groups: [] });
  });
});

describe('user LOGIN', () => {
  it("shows a user's identity", async () => {
    const run = await cli(['user', 'jdoe'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^login {9}jdoe$/m);
    expect(run.stdout).toMatch(/^display name {2}John Doe$/m);
    expect(run.stdout).toMatch(/^email {9}john\.doe@cern\.ch$/m);
    expect(run.stdout).toMatch(/^person id {5}123456$/m);
    expect(run.stdout).toMatch(/^affiliation {3}CERN$/m);
  });

  it('--json', async () => {
    const run = await cli(['user', 'jdoe', '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      login: 'jdoe',
      found: true,
      user: { login: 'jdoe', displayName: 'John Doe', email: 'john.doe@cern.ch', personId: 123456 },
    });
  });

  it('an eduGAIN login with "/"', async () => {
    const run = await cli(['user', EDUGAIN_LOGIN, '--json'], env);
    expect(run.code).toBe(0);
    const { user } = run.json();
    expect(user.login).toBe(EDUGAIN_LOGIN);
    expect(user.personId).toBeUndefined();
    const text = await cli(['user', EDUGAIN_LOGIN], env);
    expect(text.stdout).toContain(`login         ${EDUGAIN_LOGIN}\n`);
    expect(text.stdout).not.toContain('person id');
  });

  it('nobody: exit 1', async () => {
    const run = await cli(['user', 'nobody'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('express-cern-sso user: no such user: nobody\n');
    const json = await cli(['user', 'nobody', '--json'], env);
    expect(json.code).toBe(1);
    expect(json.json()).toEqual({ login: 'nobody', found: false, user: null });
  });

  it('a missing or extra argument: exit 2', async () => {
    const missing = await cli(['user'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('express-cern-sso user: missing LOGIN');
    expect(missing.stderr).toContain('Run "express-cern-sso user --help" for usage.');
    const extra = await cli(['user', 'jdoe', 'mmartin'], env);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('expected one LOGIN, got 2 arguments');
  });
});

describe('search QUERY', () => {
  it('searches login OR display name OR email, merged', async () => {
    const run = await cli(['search', 'doe'], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^LOGIN +NAME +EMAIL +PERSON ID +AFFILIATION$/);
    expect(lines[1]).toMatch(/^jdoe +John Doe +john\.doe@cern\.ch +123456 +CERN$/);
    expect(lines.at(-1)).toBe('1 person');
    // Three searches (no OR in the API).
    expect(emulator.requests.count(`${AUTHZ_API}/Identity`)).toBe(3);
  });

  it('merges matches found by different fields, each person once', async () => {
    // "martin": mmartin by login, Marie Martin by display name and email: one person.
    const run = await cli(['search', 'martin', '--json'], env);
    expect(run.code).toBe(0);
    const result = run.json();
    expect(result.fields).toEqual(['login', 'displayName', 'email']);
    const logins = (result.users as { login: string }[]).map((user) => user.login);
    expect(logins).toContain('mmartin');
    expect(new Set(logins).size).toBe(logins.length);
  });

  it('--exact --by login', async () => {
    const run = await cli(['search', '--exact', '--by', 'login', 'jdoe', '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      query: 'jdoe',
      fields: ['login'],
      exact: true,
      total: 1,
      more: false,
      users: [{ login: 'jdoe', email: 'john.doe@cern.ch' }],
    });
    const substring = await cli(['search', '--exact', '--by', 'login', 'jdo'], env);
    expect(substring.code).toBe(1);
    expect(substring.stderr).toBe(
      'express-cern-sso search: nobody exactly matching "jdo" (searched: login)\n',
    );
  });

  it('--limit cuts the list and says more match', async () => {
    const run = await cli(['search', 'user0', '--by', 'login', '--limit', '3'], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/^3 people shown, at least \d+ match: narrow the query or raise --limit$/);
    const json = await cli(['search', 'user0', '--by', 'login', '--limit', '3', '--json'], env);
    expect(json.json()).toMatchObject({ limit: 3, more: true });
    expect(json.json().users).toHaveLength(3);
  });

  it('no match: exit 1; bad options: exit 2', async () => {
    const none = await cli(['search', 'zzzz-nobody'], env);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    const json = await cli(['search', 'zzzz-nobody', '--json'], env);
    expect(json.code).toBe(1);
    expect(json.json()).toMatchObject({ users: [], total: 0 });
    const by = await cli(['search', 'doe', '--by', 'phone'], env);
    expect(by.code).toBe(2);
    expect(by.stderr).toContain('--by must be one of login, email, lastName, displayName, firstName');
    const limit = await cli(['search', 'doe', '--limit', '0'], env);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit must be a positive integer');
    const missing = await cli(['search'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing QUERY');
  });
});

describe('members GROUP', () => {
  it('lists the members of a group', async () => {
    const run = await cli(['members', 'it-dep-admins'], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('it-dep-admins: 1 member (nested groups included)');
    expect(lines[1]).toMatch(/^LOGIN +NAME/);
    expect(lines[2]).toMatch(/^admin1 +Alexandre Dubois +alexandre\.dubois@cern\.ch +345678 +CERN$/);
  });

  it('--json, nested members included', async () => {
    const run = await cli(['members', 'it-dep', '--json'], env);
    expect(run.code).toBe(0);
    const result = run.json();
    expect(result).toMatchObject({ group: 'it-dep', found: true, count: 3 });
    expect((result.members as { login: string }[]).map((member) => member.login)).toEqual([
      'admin1',
      'jdoe',
      'svc-monitoring',
    ]);
  });

  it('an unknown group: exit 1', async () => {
    const run = await cli(['members', 'no-such-group'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('express-cern-sso members: no such group: no-such-group\n');
    const json = await cli(['members', 'no-such-group', '--json'], env);
    expect(json.code).toBe(1);
    expect(json.json()).toEqual({ group: 'no-such-group', found: false, count: 0, members: [] });
  });
});

describe('configuration errors (exit 2)', () => {
  it('lists every missing variable by name', async () => {
    for (const args of [
      ['groups', 'jdoe'],
      ['user', 'jdoe'],
      ['search', 'doe'],
      ['members', 'it-dep'],
    ]) {
      const run = await cli(args, { CERN_SSO_ISSUER: emulator.issuer });
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('invalid configuration:');
      expect(run.stderr).toContain('  - CERN_SSO_CLIENT_ID is not set');
      expect(run.stderr).toContain('  - CERN_SSO_CLIENT_SECRET is not set');
    }
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('reports missing and invalid variables together', async () => {
    const run = await cli(['groups', 'jdoe', '--json'], {
      CERN_SSO_CLIENT_ID: 'demo-app',
      CERN_SSO_ISSUER: 'http://sso.example.org/auth/realms/cern',
      CERN_SSO_AUTHZ_API_URL: 'not a url',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('  - CERN_SSO_CLIENT_SECRET is not set');
    expect(run.stderr).toMatch(/ {2}- CERN_SSO_ISSUER: must use https/);
    expect(run.stderr).toMatch(/ {2}- CERN_SSO_AUTHZ_API_URL: must be an absolute URL/);
    expect(run.stderr).not.toContain('CERN_SSO_CLIENT_ID is not set');
  });

  it('wrong client credentials: exit 2, and the secret is never printed', async () => {
    const secret = 'S3cret-that-must-not-leak';
    const run = await cli(['groups', 'jdoe'], {
      ...env,
      CERN_SSO_CLIENT_SECRET: secret,
      CERN_SSO_DEBUG: '1',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /sign-in is misconfigured: CERN_SSO_CLIENT_SECRET: .* refused the client credentials .*check CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET/,
    );
    expect(run.stderr).not.toContain(secret);
    expect(run.stdout).not.toContain(secret);
  });
});

describe('upstream unavailable (exit 3)', () => {
  it('the emulator suspended: exit 3, a one-line reason, no stack trace', async () => {
    await emulator.suspend();
    try {
      for (const args of [
        ['groups', 'jdoe'],
        ['user', 'jdoe', '--json'],
        ['search', 'doe'],
        ['members', 'it-dep'],
      ]) {
        const run = await cli(args, env);
        expect(run.code).toBe(3);
        expect(run.stdout).toBe('');
        expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(run.stderr).toMatch(/unavailable, please retry shortly/);
      }
    } finally {
      await emulator.resume();
    }
  });

  it('the AuthZ API answering 503: exit 3', async () => {
    emulator.faults.set(AUTHZ_API, { status: 503 });
    const run = await cli(['user', 'jdoe'], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^express-cern-sso user: The CERN Authorization Service API is unavailable, please retry shortly \(retry in \d+ s\)\n$/,
    );
  });

  it('with CERN_SSO_DEBUG=1, the library logs and a stack trace go to stderr', async () => {
    emulator.faults.set(AUTHZ_API, { status: 503 });
    const run = await cli(['user', 'jdoe'], { ...env, CERN_SSO_DEBUG: '1' });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('[express-cern-sso]');
    expect(run.stderr).toMatch(/\n\s+at /);
  });
});
