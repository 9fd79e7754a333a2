/**
 * Two app instances sharing one Redis (connect-redis sessions, `redisCache({ localCache })`):
 * a back-channel logout received by one reaches the other over the cache's invalidation channel,
 * so the other drops its reused "not logged out" answers at once instead of after
 * LOGOUT_RECHECK_MS; with the channel down the 1 s rule applies.
 */
import { RedisStore } from 'connect-redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { redisCache, type CacheStore } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { invalidationChannelOf } from '../../src/cache/invalidation-channel.js';
import { LOGOUT_RECHECK_MS, LOGOUT_TRUSTED_RECHECK_MS } from '../../src/auth/logout-markers.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { redisAvailable, startRedis, type TestRedis, type TestRedisClient } from '../helpers/redis.js';

const CLIENT_ID = 'bcl-channel-app';
const JSON_ACCEPT = { accept: 'application/json' };
const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A connect-redis store counting the reads of logout markers (what a reused answer saves). */
class CountingStore extends RedisStore {
  markerReads = 0;
  override get(...args: Parameters<RedisStore['get']>): ReturnType<RedisStore['get']> {
    if (args[0].startsWith('cern-sso.logout.')) this.markerReads++;
    return super.get(...args);
  }
}

describe.skipIf(!redisAvailable())('back-channel logout over the invalidation channel', () => {
  let redis: TestRedis;
  let emulator: CernSsoEmulator;
  let first: TestApp;
  let second: TestApp;
  let secondCache: CacheStore;
  let secondStore: CountingStore;
  /** The second instance's clock: it only moves when a test moves it. */
  let secondNow = Date.now();

  beforeAll(async () => {
    redis = await startRedis();
    emulator = await startCernSsoEmulator();
    const clientA: TestRedisClient = await redis.client();
    const clientB: TestRedisClient = await redis.client();
    const firstCache = redisCache(clientA, { prefix: 'app:', localCache: true, logger: quiet });
    secondCache = redisCache(clientB, { prefix: 'app:', localCache: true, logger: quiet });
    first = await startTestApp(emulator, {
      clientId: CLIENT_ID,
      sessionStore: new RedisStore({ client: clientA, prefix: 'sess:' }),
      sso: { cache: firstCache },
    });
    secondStore = new CountingStore({ client: clientB, prefix: 'sess:' });
    second = await startTestApp(emulator, {
      clientId: CLIENT_ID,
      sessionStore: secondStore,
      sso: { cache: secondCache, clock: { now: () => secondNow } },
    });
    // Both instances sign in users; Keycloak delivers the logout to one URL: the first instance's.
    const client = emulator.clients.get(CLIENT_ID);
    if (!client) throw new Error('client not registered');
    emulator.registerClient({
      ...client,
      redirectUris: [`${first.baseUrl}/oidc/callback`, `${second.baseUrl}/oidc/callback`],
      backchannelLogoutUri: `${first.baseUrl}/oidc/backchannel-logout`,
    });
    await vi.waitFor(() => {
      expect(invalidationChannelOf(firstCache)?.trusted).toBe(true);
      expect(invalidationChannelOf(secondCache)?.trusted).toBe(true);
    });
  });
  afterAll(async () => {
    // sso.close() closes each cache's subscriber.
    await first.close();
    await second.close();
    await emulator.close();
    await redis.stop();
  });

  async function signIn(
    login: string,
  ): Promise<{ onFirst: () => Promise<Response>; onSecond: () => Promise<Response> }> {
    emulator.setAutoLogin(login);
    const browser = new TestBrowser();
    expect((await browser.navigate(`${first.baseUrl}/login`)).body).toBe(`home of ${login}`);
    const cookie = browser.cookie('localhost', 'app.sid') ?? '';
    const headers = { ...JSON_ACCEPT, cookie: `app.sid=${cookie}` };
    return {
      onFirst: () => fetch(`${first.baseUrl}/api/me`, { headers }),
      onSecond: () => fetch(`${second.baseUrl}/api/me`, { headers }),
    };
  }

  it('a logout received by the first instance signs the session out on the second as soon as the message arrives (otherwise its answer is reused for 30 s)', async () => {
    const { onFirst, onSecond } = await signIn('jdoe');
    expect((await onSecond()).status).toBe(200);
    // While the channel is trusted the answer is reused for LOGOUT_TRUSTED_RECHECK_MS: no marker read.
    const reads = secondStore.markerReads;
    secondNow += LOGOUT_TRUSTED_RECHECK_MS - 1_000;
    expect((await onSecond()).status).toBe(200);
    expect(secondStore.markerReads).toBe(reads);

    await emulator.endSsoSessions('jdoe'); // delivered to the first instance, which publishes it
    expect((await onFirst()).status).toBe(401);
    await vi.waitFor(
      async () => {
        expect((await onSecond()).status).toBe(401);
      },
      { timeout: 2_000, interval: 10 },
    );
  });

  it('with the second instance’s channel down, the 1 s rule applies (LOGOUT_RECHECK_MS)', async () => {
    const { onSecond } = await signIn('mmartin');
    await secondCache.close?.(); // the subscriber gone: the channel is not trusted any more
    expect(invalidationChannelOf(secondCache)?.trusted).toBe(false);
    expect((await onSecond()).status).toBe(200); // checked now, reused for 1 s only

    await emulator.endSsoSessions('mmartin');
    expect((await onSecond()).status).toBe(200); // the second instance did not hear it
    secondNow += LOGOUT_RECHECK_MS;
    expect((await onSecond()).status).toBe(401);
  });
});
