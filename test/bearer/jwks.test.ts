import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearerAuth, type BearerAuthOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { call, sleep, startApp, type RunningApp } from './helpers.js';

const AUDIENCE = 'my-api';
const CERTS = '/auth/realms/cern/protocol/openid-connect/certs';
const DISCOVERY = '/auth/realms/cern/.well-known/openid-configuration';

let emulator: CernSsoEmulator;
let api: RunningApp | undefined;

// A fresh emulator (a new issuer) per test: the issuer's discovery and JWKS are shared by every
// user of the issuer in the process, so each test starts with none fetched.
beforeEach(async () => {
  emulator = await startCernSsoEmulator();
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await emulator.close();
});

async function startApi(options: Partial<BearerAuthOptions> = {}): Promise<string> {
  api = await startApp((app) => {
    app.use(
      bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: recordingLogger(), ...options }),
    );
    app.get('/', (req, res) => res.json({ login: req.sso.user?.login }));
  });
  return api.url;
}

/** The same token with another `kid` in its header (the signature no longer matters). */
function withKid(token: string, kid: string): string {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const decoded = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
  const changed = Buffer.from(JSON.stringify({ ...decoded, kid })).toString('base64url');
  return `${changed}.${payload}.${signature}`;
}

describe('JWKS fetching', () => {
  it('concurrent first requests share one discovery and one JWKS request', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(url, { token })));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(emulator.requests.count(DISCOVERY)).toBe(1);
    expect(emulator.requests.count(CERTS)).toBe(1);
  });

  it('an unknown kid after a key rotation: one refetch; a flood of bad kids within the cool-down: at most one more', async () => {
    const url = await startApi({ jwksCooldownMs: 1000 });
    const before = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token: before })).status).toBe(200);
    expect(emulator.requests.count(CERTS)).toBe(1);

    await emulator.rotateSigningKey();
    const rotated = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const afterRotation = await call(url, { token: rotated });
    expect(afterRotation.status).toBe(200);
    expect(afterRotation.json).toEqual({ login: 'admin1' });
    expect(emulator.requests.count(CERTS)).toBe(2);

    const flood = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(url, { token: withKid(rotated, `forged-kid-${i}`) })),
    );
    for (const answer of flood) {
      expect(answer.status).toBe(401);
      expect(answer.json.error_description).toMatch(/unknown kid/);
    }
    expect(emulator.requests.count(CERTS)).toBeLessThanOrEqual(3);

    // Both keys still verify, without fetching again.
    const fetched = emulator.requests.count(CERTS);
    expect((await call(url, { token: before })).status).toBe(200);
    expect((await call(url, { token: rotated })).status).toBe(200);
    expect(emulator.requests.count(CERTS)).toBe(fetched);
  });
});

describe('issuer outages: 503 with Retry-After, never 401', () => {
  it('JWKS down (5xx), then back', async () => {
    const url = await startApi({ jwksCooldownMs: 200 });
    emulator.faults.set(CERTS, { status: 502 });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const down = await call(url, { token });
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(down.headers.get('www-authenticate')).toBeNull();
    expect(down.json).toMatchObject({ error: 'temporarily_unavailable' });
    expect(down.json.error_description).toMatch(/JWKS/);

    // Within the cool-down no new attempt is made.
    const attempts = emulator.requests.count(CERTS);
    expect((await call(url, { token })).status).toBe(503);
    expect(emulator.requests.count(CERTS)).toBe(attempts);

    emulator.faults.clear();
    await sleep(250);
    expect((await call(url, { token })).status).toBe(200);
  });

  it('JWKS timing out', async () => {
    const url = await startApi({ httpTimeoutMs: 300 });
    emulator.faults.set(CERTS, { hang: true });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answer = await call(url, { token });
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).not.toBeNull();
  });

  it('keys already known keep verifying while the JWKS is down; an unknown kid then gets 503', async () => {
    const url = await startApi({ jwksCooldownMs: 0 });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token })).status).toBe(200);
    emulator.faults.set(CERTS, { status: 500 });
    const other = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    expect((await call(url, { token: other })).status).toBe(200);
    const unknown = await call(url, { token: withKid(other, 'rotated-meanwhile') });
    expect(unknown.status).toBe(503);
  });

  it('Keycloak unreachable (discovery fails), then back after the retry delay', async () => {
    let clock = Date.now();
    const url = await startApi({ clock: { now: () => clock } });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    await emulator.suspend();
    try {
      const down = await call(url, { token });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).not.toBeNull();
      expect(down.json.error).toBe('temporarily_unavailable');
    } finally {
      await emulator.resume();
    }
    // Within the retry delay (2 s), answered from memory; after it, discovered again.
    clock += 1000;
    expect((await call(url, { token })).status).toBe(503);
    expect(emulator.requests.count(DISCOVERY)).toBe(0);
    clock += 1000;
    expect((await call(url, { token })).status).toBe(200);
    expect(emulator.requests.count(DISCOVERY)).toBe(1);
  });

  it('an issuer that does not exist (discovery 404) is a misconfiguration: 500, no Retry-After, logged', async () => {
    const logger = recordingLogger();
    const issuer = emulator.issuer.replace(/\/cern$/, '/no-such-realm');
    const url = await startApi({ issuer, logger });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, claims: { iss: issuer } });
    const answer = await call(url, { token });
    expect(answer.status).toBe(500);
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(answer.json.error).toBe('server_error');
    expect(answer.text).not.toMatch(/no-such-realm|404/);
    expect(logger.text()).toContain(`${issuer}/.well-known/openid-configuration`);
    expect(logger.text()).toMatch(/HTTP 404/);
  });
});
