/**
 * Back-channel logout with the sessions (and so the logout markers) in a real Redis
 * (connect-redis) that goes away: a logout that could not be recorded must be answered 400 (OIDC
 * Back-Channel Logout 1.0, 2.8), never 200, and never hang although the client queues commands
 * while disconnected.
 */
import { randomUUID } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { redisAvailable, startRedis, type TestRedis, type TestRedisClient } from '../helpers/redis.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe.skipIf(!redisAvailable())('back-channel logout while Redis is down', () => {
  let redis: TestRedis;
  let client: TestRedisClient;
  let emulator: CernSsoEmulator;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    client = await redis.client();
    emulator = await startCernSsoEmulator();
    app = await startTestApp(emulator, {
      clientId: 'bcl-redis-app',
      sessionStore: new RedisStore({ client, prefix: 'bcl:sess:' }),
      sso: { logoutCheckTimeoutMs: 300 },
    });
  });
  afterAll(async () => {
    await app.close();
    await emulator.close();
    await redis.stop();
  });

  const logoutToken = (sid: string): Promise<string> =>
    emulator.issueAccessToken('jdoe', {
      clientId: 'bcl-redis-app',
      audience: 'bcl-redis-app',
      expiresInSec: 120,
      claims: { typ: 'Logout', sid, events: { [EVENT]: {} }, scope: undefined },
    });

  const post = (token: string): Promise<Response> =>
    fetch(`${app.baseUrl}/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });

  it('answers 200 and writes the marker, with a 30-day TTL, next to the sessions', async () => {
    const sid = randomUUID();
    const response = await post(await logoutToken(sid));
    expect(response.status).toBe(200);
    const markers = await client.keys('bcl:sess:cern-sso.logout.sid.*');
    expect(markers.length).toBe(1);
    const ttl = await client.ttl(markers[0] ?? '');
    expect(ttl).toBeGreaterThan(30 * 24 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(30 * 24 * 3600);
    // The token's jti is remembered for the replay window only (max age + 2 x clock tolerance).
    const used = await client.keys('bcl:sess:cern-sso.logout.jti.*');
    expect(used.length).toBe(1);
    expect(await client.ttl(used[0] ?? '')).toBeLessThanOrEqual(300 + 2 * 30);
  });

  it('answers 400 with a reason (after logoutCheckTimeoutMs, not a hang) and logs a warning when Redis is down', async () => {
    const token = await logoutToken(randomUUID());
    await redis.kill();
    app.logger.warn.mockClear();
    const response = await post(token);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(/could not be recorded/) as unknown,
      code: 'ERR_INVALID_REQUEST',
    });
    const warnings = app.logger.lines('warn').join('\n');
    expect(warnings).toMatch(/back-channel logout failed/);
    expect(app.logger.text()).not.toContain(token);
  });

  it('answers 200 again once Redis is back', async () => {
    await redis.restart();
    await expect.poll(() => client.isReady, { timeout: 5000 }).toBe(true);
    const response = await post(await logoutToken(randomUUID()));
    expect(response.status).toBe(200);
  });
});
