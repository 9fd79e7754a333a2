import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as jose from 'jose';
import { bearerAuth } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { createTokenCache } from '../../src/bearer/token-cache.js';
import { recordingLogger } from '../helpers/app.js';
import { call, startApp, type RunningApp } from './helpers.js';

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

async function startApi(verifiedTokenCacheMax?: number): Promise<string> {
  const app = await startApp((express) => {
    express.use(
      bearerAuth({
        issuer: emulator.issuer,
        audience: AUDIENCE,
        logger: recordingLogger(),
        ...(verifiedTokenCacheMax === undefined ? {} : { verifiedTokenCacheMax }),
      }),
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
    const url = await startApi(0);
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    await call(url, { token });
    await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('entries live until exp and the cache is bounded', () => {
    let now = 1_000_000;
    const cache = createTokenCache(2, () => now);
    const entry = (exp: number) => ({ claims: { sub: 'x' }, expiresAt: exp });
    cache.set(cache.keyOf('a'), entry(now + 1000));
    expect(cache.get(cache.keyOf('a'))).toBeDefined();
    now += 1000;
    expect(cache.get(cache.keyOf('a'))).toBeUndefined();

    cache.set(cache.keyOf('b'), entry(now + 60_000));
    cache.set(cache.keyOf('c'), entry(now + 60_000));
    cache.set(cache.keyOf('d'), entry(now + 60_000));
    expect(cache.get(cache.keyOf('b'))).toBeUndefined();
    expect(cache.get(cache.keyOf('d'))).toBeDefined();

    cache.set(cache.keyOf('e'), { claims: {}, expiresAt: undefined });
    expect(cache.get(cache.keyOf('e'))).toBeUndefined();
    expect(cache.keyOf('token')).not.toContain('token');
  });
});
