import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as jose from 'jose';
import { bearerAuth, type BearerAuthOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { call, rawGet, startApp, type RunningApp } from './helpers.js';

// Count signature verifications done by the library (the emulator only signs).
vi.mock('jose', async (importOriginal) => {
  const original = await importOriginal<typeof jose>();
  return { ...original, jwtVerify: vi.fn(original.jwtVerify) };
});
const jwtVerify = vi.mocked(jose.jwtVerify);

const AUDIENCE = 'my-api';
let emulator: CernSsoEmulator;
const apps: RunningApp[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await emulator.close();
});
beforeEach(() => {
  jwtVerify.mockClear();
});

async function startApi(options: Partial<BearerAuthOptions> = {}): Promise<string> {
  const app = await startApp((express) => {
    express.use(
      bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: recordingLogger(), ...options }),
    );
    express.get('/', (req, res) => res.json({ login: req.sso.user?.login }));
  });
  apps.push(app);
  return app.url;
}

describe('verified-token cache', () => {
  it('a token is verified once, then served from the cache', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (let i = 0; i < 5; i += 1) expect((await call(url, { token })).json.login).toBe('jdoe');
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('concurrent requests with one token share one verification', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    await Promise.all(Array.from({ length: 10 }, () => call(url, { token })));
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('invalid tokens are not cached', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: 'account' });
    await call(url, { token });
    await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('verifiedTokenCacheMax: 0 verifies every time', async () => {
    const url = await startApi({ verifiedTokenCacheMax: 0 });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    await call(url, { token });
    await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('entries live until exp (on the clock option), then the token is verified again', async () => {
    let clock = Date.now();
    const url = await startApi({ clock: { now: () => clock } });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, expiresInSec: 60 });
    expect((await call(url, { token })).status).toBe(200);
    expect((await call(url, { token })).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
    // Past exp the entry is gone: verified again (still inside the 30 s clock tolerance).
    clock += 61_000;
    expect((await call(url, { token })).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(2);
    // Not cached again (it has expired), and refused beyond the tolerance.
    clock += 30_000;
    const answer = await call(url, { token });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/expired/);
    expect(jwtVerify).toHaveBeenCalledTimes(3);
  });

  it('the cache is bounded by verifiedTokenCacheMax (least recently used go first)', async () => {
    const url = await startApi({ verifiedTokenCacheMax: 2 });
    const a = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const b = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const c = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (const token of [a, b, a, c]) await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(3);
    // b was the least recently used: evicted by c; a and c are still cached.
    await call(url, { token: b });
    expect(jwtVerify).toHaveBeenCalledTimes(4);
    await call(url, { token: c });
    expect(jwtVerify).toHaveBeenCalledTimes(4);
  });

  it('a cached token is still refused in a malformed or repeated header, the URL or the body', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token })).status).toBe(200);
    const refused = [
      await call(url, { headers: { authorization: `Bearer ${token} extra` } }),
      await call(url, { headers: { authorization: `Bearer ${token}\u0000`.replace('\u0000', '%') } }),
      await call(`${url}/?access_token=${token}`, { token }),
    ];
    for (const answer of refused) {
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe('ERR_INVALID_REQUEST');
    }
    const twice = await rawGet(url, ['Authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`]);
    expect(twice.status).toBe(400);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('a cached token is served from the cache whatever the case of the scheme and the spaces around it', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (const authorization of [
      `Bearer ${token}`,
      `bearer ${token}`,
      `BEARER  ${token}`,
      `Bearer ${token}  `,
    ]) {
      const answer = await call(url, { headers: { authorization } });
      expect(answer.status).toBe(200);
      expect(answer.json.login).toBe('jdoe');
    }
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });
});
