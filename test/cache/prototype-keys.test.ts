import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCachedLoader } from '../../src/cache/cached-loader.js';
import { cacheKey } from '../../src/cache/keys.js';
import { memoryCache } from '../../src/cache/memory.js';
import { redisCache } from '../../src/cache/redis.js';
import type { CacheStore } from '../../src/cache/types.js';
import { silentLogger } from '../../src/logger.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

/** Every store must treat prototype names as ordinary keys: a miss first, then what was stored. */
async function checkStore(store: CacheStore): Promise<void> {
  for (const name of PROTOTYPE_NAMES) {
    for (const key of [name, cacheKey('groups', name), `${name}:${name}`]) {
      expect(await store.get(key)).toBeUndefined();
      await store.set(key, { value: [name], freshUntil: 1 }, 60_000);
      expect(await store.get(key)).toEqual({ value: [name], freshUntil: 1 });
      await store.delete(key);
      expect(await store.get(key)).toBeUndefined();
    }
    // Values whose own keys are prototype names come back as data, not as prototypes.
    const tricky: unknown = JSON.parse(`{"${name}": {"polluted": true}, "value": 1}`);
    await store.set(name, tricky, 60_000);
    const back = (await store.get(name)) as Record<string, unknown>;
    expect(Object.hasOwn(back, name)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }
  const loader = createCachedLoader({ store, logger: silentLogger });
  for (const name of PROTOTYPE_NAMES) {
    const value = await loader.get({
      key: cacheKey('user', name),
      description: `identity of ${name}`,
      freshMs: 60_000,
      staleMs: 0,
      isValid: (candidate): candidate is string => typeof candidate === 'string',
      load: () => Promise.resolve(`loaded ${name}`),
    });
    expect(value).toBe(`loaded ${name}`);
  }
}

describe('cache keys of prototype names', () => {
  it('memoryCache stores and finds them like any key', async () => {
    await checkStore(memoryCache());
  });

  describe.skipIf(!redisAvailable())('redisCache (real Redis)', () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis.stop();
    });

    it('stores and finds them like any key, with and without a prefix', async () => {
      const client = await redis.client();
      await checkStore(redisCache(client, { logger: silentLogger }));
      await checkStore(redisCache(client, { prefix: '__proto__:', logger: silentLogger }));
    });
  });
});
