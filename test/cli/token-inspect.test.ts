import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { AUTHZ_API, cli, emulatorEnv } from './helpers.js';

let emulator: CernSsoEmulator;
let other: CernSsoEmulator;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  [emulator, other] = await Promise.all([startCernSsoEmulator(), startCernSsoEmulator()]);
  // An application whose tokens carry a groups claim.
  emulator.registerClient({
    clientId: 'groups-app',
    clientSecret: 'groups-app-secret',
    redirectUris: [],
    groupsClaim: true,
    roles: { jdoe: ['reader'] },
  });
  env = emulatorEnv(emulator);
});
afterAll(async () => {
  await Promise.all([emulator.close(), other.close()]);
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
});

/** The token must never be echoed, in any stream. */
function expectNoToken(run: { stdout: string; stderr: string }, token: string): void {
  expect(run.stdout).not.toContain(token);
  expect(run.stderr).not.toContain(token);
  // Not even its signature part.
  const signature = token.split('.')[2];
  if (signature) {
    expect(run.stdout).not.toContain(signature);
    expect(run.stderr).not.toContain(signature);
  }
}

describe('token inspect: valid tokens', () => {
  it('verifies a valid token and shows claims, validity, user and AuthZ groups (text)', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token], env);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Token: VALID/);
    expect(run.stdout).toContain('audience NOT checked');
    expect(run.stdout).toMatch(/Validity: expires in (4 min \d+ s|5 min)/);
    expect(run.stdout).toMatch(/^ {2}login {6}jdoe$/m);
    expect(run.stdout).toMatch(/^ {2}name {7}John Doe$/m);
    expect(run.stdout).toMatch(/^ {2}email {6}john\.doe@cern\.ch$/m);
    expect(run.stdout).toMatch(/^ {2}person id {2}123456$/m);
    expect(run.stdout).toMatch(/^ {2}roles {6}user$/m);
    expect(run.stdout).toContain('(from the CERN Authorization Service)');
    expect(run.stdout).toMatch(/^ {2}it-dep$/m);
    expect(run.stdout).toMatch(/^ {2}sub +jdoe$/m);
    expect(run.stdout).toMatch(/^ {2}alg +RS256$/m);
    expectNoToken(run, token);
    // Keys were fetched from the issuer, groups from the AuthZ API.
    expect(emulator.requests.count('/auth/realms/cern/protocol/openid-connect/certs')).toBe(1);
    expect(emulator.requests.count(`${AUTHZ_API}/IdentityMembership`)).toBe(1);
  });

  it('--json gives one object with valid, errors, header, claims, expiresInSec, user, groups', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token, '--json'], env);
    expect(run.code).toBe(0);
    const report = run.json();
    expect(report).toMatchObject({
      valid: true,
      errors: [],
      header: { alg: 'RS256', typ: 'JWT' },
      claims: { sub: 'jdoe', iss: emulator.issuer, aud: 'demo-app', cern_person_id: 123456 },
      user: {
        login: 'jdoe',
        displayName: 'John Doe',
        email: 'john.doe@cern.ch',
        personId: 123456,
        roles: ['user'],
      },
      groups: ['cern-staff', 'cern-users-demo', 'it-dep', 'it-monitoring-services'],
      groupsSource: 'authz',
      audienceChecked: false,
    });
    expect(report.expiresInSec).toBeGreaterThan(290);
    expect(report.expiresInSec).toBeLessThanOrEqual(300);
    expect((report.warnings as string[]).join(' ')).toMatch(/audience \(aud\): not checked/);
    expectNoToken(run, token);
  });

  it('checks the audience given by --audience or CERN_SSO_AUDIENCE', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: ['my-api', 'account'] });
    const flag = await cli(['token', 'inspect', token, '--audience', 'my-api'], env);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toContain('audience "my-api"');
    expect(flag.stdout).not.toContain('NOT checked');
    const fromEnv = await cli(['token', 'inspect', token, '--json'], {
      ...env,
      CERN_SSO_AUDIENCE: 'other, my-api',
    });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.json()).toMatchObject({ valid: true, audienceChecked: true, warnings: [] });
  });

  it("uses the token's groups claim without calling the AuthZ API", async () => {
    const token = await emulator.issueAccessToken('jdoe', { clientId: 'groups-app' });
    const run = await cli(['token', 'inspect', token, '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      valid: true,
      groupsSource: 'claim',
      groups: ['cern-staff', 'cern-users-demo', 'it-dep', 'it-monitoring-services'],
      user: { login: 'jdoe', roles: ['reader'] },
    });
    expect(emulator.requests.count(AUTHZ_API)).toBe(0);
    const text = await cli(['token', 'inspect', token], env);
    expect(text.stdout).toContain("(from the token's groups claim)");
  });

  it('without client credentials, verifies the token and says how to get the groups', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token], { CERN_SSO_ISSUER: emulator.issuer });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Token: VALID/);
    expect(run.stdout).toMatch(
      /groups: the token has no groups claim.*set CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET/,
    );
    expect(emulator.requests.count(AUTHZ_API)).toBe(0);
    const json = await cli(['token', 'inspect', token, '--json'], { CERN_SSO_ISSUER: emulator.issuer });
    expect(json.json()).toMatchObject({ valid: true, groups: null, groupsSource: null });
  });

  it('reads the token from ACCESS_TOKEN, and from standard input with "-"', async () => {
    const token = await emulator.issueAccessToken('mmartin');
    const fromEnv = await cli(['token', 'inspect', '--json'], { ...env, ACCESS_TOKEN: token });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.json()).toMatchObject({ valid: true, user: { login: 'mmartin' } });
    const fromStdin = await cli(['token', 'inspect', '-', '--json'], env, `Bearer ${token}\n`);
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.json()).toMatchObject({ valid: true, user: { login: 'mmartin' } });
    expectNoToken(fromEnv, token);
    expectNoToken(fromStdin, token);
  });

  it('shows an eduGAIN user (no person id, login with "/")', async () => {
    const token = await emulator.issueAccessToken('edugain.uni-example.it/srossi');
    const run = await cli(['token', 'inspect', token, '--json'], env);
    expect(run.code).toBe(0);
    const report = run.json();
    expect(report.user.login).toBe('edugain.uni-example.it/srossi');
    expect(report.user.personId).toBeUndefined();
    expect(report.groups).toEqual(['atlas-higgs-wg', 'atlas-physicists', 'edugain-collaborators']);
  });
});

describe('token inspect: invalid tokens (exit 1)', () => {
  it('an expired token: exit 1, says it expired and how long ago', async () => {
    const token = await emulator.issueAccessToken('jdoe', { expiresInSec: -180 });
    const run = await cli(['token', 'inspect', token], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Token: INVALID/);
    expect(run.stdout).toContain('  - the token has expired');
    expect(run.stdout).toMatch(/Validity: expired 3 min( \d+ s)? ago/);
    expect(run.stdout).toContain('Claims (NOT verified)');
    expect(run.stdout).toContain('groups: not looked up, the token is not valid');
    expect(emulator.requests.count(AUTHZ_API)).toBe(0);
    const json = await cli(['token', 'inspect', token, '--json'], env);
    expect(json.code).toBe(1);
    const report = json.json();
    expect(report).toMatchObject({ valid: false, errors: ['the token has expired'], groups: null });
    expect(report.expiresInSec).toBeLessThanOrEqual(-180);
    expectNoToken(run, token);
  });

  it('a wrong audience with --audience: exit 1 and names the expected audience', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', '--audience', 'my-api', token, '--json'], env);
    expect(run.code).toBe(1);
    const report = run.json();
    expect(report.valid).toBe(false);
    expect(report.audienceChecked).toBe(true);
    expect(report.errors).toEqual([`the token's audience (aud) does not include "my-api"`]);
  });

  it('lists every claim problem once the signature is verified (expired and wrong audience)', async () => {
    const token = await emulator.issueAccessToken('jdoe', { expiresInSec: -600, audience: 'account' });
    const run = await cli(['token', 'inspect', token, '--audience', 'my-api', '--json'], env);
    expect(run.code).toBe(1);
    const errors: string[] = run.json().errors;
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBe('the token has expired');
    expect(errors[1]).toMatch(/does not include "my-api".*Keycloak's default audience/);
  });

  it('garbage: exit 1, whatever the credentials', async () => {
    for (const environment of [env, { CERN_SSO_ISSUER: emulator.issuer }]) {
      const run = await cli(['token', 'inspect', 'not-a-token', '--json'], environment);
      expect(run.code).toBe(1);
      const report = run.json();
      expect(report).toMatchObject({ valid: false, header: null, claims: null, user: null, groups: null });
      expect(report.errors[0]).toMatch(/not a JWT/);
    }
    const malformed = await cli(['token', 'inspect', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln'], env);
    expect(malformed.code).toBe(1);
    expect(malformed.stdout).toMatch(/^Token: INVALID\n {2}- the token is malformed/);
  });

  it('a tampered signature: exit 1, signature invalid', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const [header, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin1', cern_upn: 'admin1' })).toString('base64url')}.${token.split('.')[2]}`;
    const run = await cli(['token', 'inspect', forged, '--json'], env);
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ valid: false, errors: ['the token signature is invalid'] });
  });

  it('a token of another issuer: exit 1 without fetching anything', async () => {
    const token = await other.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `  - the token was issued by ${other.issuer}, not by the configured issuer ${emulator.issuer}`,
    );
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('an ID token is refused as not an access token', async () => {
    const token = await emulator.issueAccessToken('jdoe', { claims: { typ: 'ID' } });
    const run = await cli(['token', 'inspect', token, '--json'], env);
    expect(run.code).toBe(1);
    expect(run.json().errors).toEqual(['ID tokens are refused: send an access token']);
  });
});

describe('token inspect: usage and outages', () => {
  it('no token at all: exit 2 with a hint', async () => {
    const run = await cli(['token', 'inspect'], env);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'no token: pass TOKEN, "-" to read it from standard input, or set ACCESS_TOKEN',
    );
  });

  it('two positional arguments: exit 2 without echoing them', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token, token], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected at most one TOKEN argument');
    expectNoToken(run, token);
  });

  it('an invalid CERN_SSO_ISSUER: exit 2 naming the variable', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    const run = await cli(['token', 'inspect', token], {
      CERN_SSO_ISSUER: 'http://sso.example.org/realms/x',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/CERN_SSO_ISSUER: must use https/);
  });

  it('the issuer down: exit 3, nothing on stdout', async () => {
    // An issuer never discovered in this process (discovery and keys are shared per issuer).
    const down = await startCernSsoEmulator();
    const token = await down.issueAccessToken('jdoe');
    await down.suspend();
    try {
      const run = await cli(['token', 'inspect', token, '--json'], emulatorEnv(down));
      expect(run.code).toBe(3);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^express-cern-sso token inspect: The token issuer is unavailable.*\n$/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await down.resume();
      await down.close();
    }
  });

  it('the AuthZ API down: the token is still reported valid, the groups unavailable, exit 3', async () => {
    const token = await emulator.issueAccessToken('jdoe');
    emulator.faults.set(AUTHZ_API, { status: 503 });
    const run = await cli(['token', 'inspect', token, '--json'], env);
    expect(run.code).toBe(3);
    const report = run.json();
    expect(report).toMatchObject({ valid: true, groups: null, groupsSource: null });
    expect((report.warnings as string[]).join(' ')).toMatch(
      /groups: could not be looked up: The CERN Authorization Service API is unavailable/,
    );
  });
});
