/**
 * `redisCache({ localCache })` on a real Redis, with two stores standing for two app instances:
 * a local copy is served without a round trip only while it cannot be older than Redis.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { invalidationChannelOf } from '../../src/cache/invalidation-channel.js';
import { redisCache, type RedisCacheClient } from '../../src/cache/redis.js';
import { kGetSync, type CacheStore, type SyncReadable } from '../../src/cache/types.js';
import type { Logger } from '../../src/logger.js';
import { redisAvailable, startRedis, type TestRedis, type TestRedisClient } from '../helpers/redis.js';

const quiet: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

let counter = 0;
const uniquePrefix = (): string => `local${++counter}:`;

type Store = CacheStore & SyncReadable;

const closeStore = async (store: CacheStore): Promise<void> => {
  await store.close?.();
};

/** The instance's local copy of `key` (what a warm guard reads, synchronously). */
const localCopy = (store: Store, key: string): unknown => store[kGetSync]?.(key);
const trusted = (store: Store): boolean => invalidationChannelOf(store)?.trusted === true;

/**
 * The keys whose change `store` heard of from other instances. A read racing with that message
 * rightly keeps nothing (it may have read the old value), so tests wait for it before reading.
 */
function heardBy(store: Store): string[] {
  const keys: string[] = [];
  invalidationChannelOf(store)?.onInvalidate((key) => keys.push(key));
  return keys;
}

async function hears(keys: string[], key: string, times = 1): Promise<void> {
  await vi.waitFor(() => {
    expect(keys.filter((heard) => heard === key).length).toBeGreaterThanOrEqual(times);
  });
}

/** A client whose GETs are counted: a local hit makes none. */
function counting(client: TestRedisClient): RedisCacheClient & { gets: number } {
  const wrapper = {
    gets: 0,
    get isReady() {
      return client.isReady;
    },
    get: (key: string) => {
      wrapper.gets++;
      return client.get(key);
    },
    set: client.set.bind(client),
    del: client.del.bind(client),
    eval: client.eval.bind(client),
    publish: client.publish.bind(client),
    duplicate: () => client.duplicate(),
  };
  return wrapper;
}

describe.skipIf(!redisAvailable())('redisCache localCache (real Redis, two instances)', () => {
  let redis: TestRedis;
  let clientA: TestRedisClient;
  let clientB: TestRedisClient;
  const stores: CacheStore[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    clientA = await redis.client();
    clientB = await redis.client();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(stores.splice(0).map(closeStore));
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** A store with localCache, once its channel is trusted. */
  async function live(
    client: RedisCacheClient,
    prefix: string,
    localCache: object | true = true,
  ): Promise<Store> {
    const store = redisCache(client, { prefix, logger: quiet, localCache }) as Store;
    stores.push(store);
    await vi.waitFor(() => {
      expect(trusted(store)).toBe(true);
    });
    return store;
  }

  it('A writes, B reads then serves it locally; A writes again: B drops its copy when the message arrives and reads the new value', async () => {
    const prefix = uniquePrefix();
    const b = counting(clientB);
    const storeA = await live(clientA, prefix);
    const storeB = await live(b, prefix);
    const heard = heardBy(storeB);
    await storeA.set('groups', { value: ['v1'] }, 60_000);
    await hears(heard, 'groups');
    expect(await storeB.get('groups')).toEqual({ value: ['v1'] });
    const getsAfterFirstRead = b.gets;
    const first = localCopy(storeB, 'groups');
    expect(first).toEqual({ value: ['v1'] });
    expect(await storeB.get('groups')).toBe(first); // the same object, no round trip
    expect(b.gets).toBe(getsAfterFirstRead);

    await storeA.set('groups', { value: ['v2'] }, 60_000);
    await vi.waitFor(() => {
      expect(localCopy(storeB, 'groups')).toBeUndefined();
    });
    await hears(heard, 'groups', 2);
    expect(await storeB.get('groups')).toEqual({ value: ['v2'] });
    // The writer keeps its own new value locally (as read back: JSON).
    expect(localCopy(storeA, 'groups')).toEqual({ value: ['v2'] });

    await storeA.delete('groups');
    await vi.waitFor(() => {
      expect(localCopy(storeB, 'groups')).toBeUndefined();
    });
    expect(await storeB.get('groups')).toBeUndefined();
    expect(localCopy(storeA, 'groups')).toBeUndefined();
  });

  it('a write announces itself atomically (one script): the value and the message together', async () => {
    const prefix = uniquePrefix();
    const messages: string[] = [];
    const listener = clientA.duplicate();
    listener.on('error', () => undefined);
    await listener.connect();
    await listener.subscribe(`${prefix}cern-sso:v1:invalidate`, (message) => messages.push(message));
    const store = await live(clientA, prefix);
    await store.set('k', 1, 60_000);
    await vi.waitFor(() => {
      expect(messages.some((message) => message.startsWith('i\n') && message.endsWith('\nk'))).toBe(true);
    });
    expect(await clientA.get(`${prefix}k`)).toBe('1');
    listener.destroy();
  });

  it('Redis killed: the local copies are dropped and reads are misses; after the restart a probe restores trust', async () => {
    const prefix = uniquePrefix();
    const storeA = await live(clientA, prefix);
    const storeB = await live(clientB, prefix);
    const heard = heardBy(storeB);
    await storeA.set('k', 'v', 60_000);
    await hears(heard, 'k');
    expect(await storeB.get('k')).toBe('v');
    expect(localCopy(storeB, 'k')).toBe('v');

    await redis.kill();
    await vi.waitFor(() => {
      expect(trusted(storeB)).toBe(false);
    });
    expect(localCopy(storeB, 'k')).toBeUndefined();
    expect(await storeB.get('k')).toBeUndefined(); // outage = miss, at once

    await redis.restart();
    await vi.waitFor(() => {
      expect(trusted(storeB)).toBe(true);
      expect(trusted(storeA)).toBe(true);
    });
    // The restarted Redis is empty (no persistence): B must not serve what it had before.
    expect(await storeB.get('k')).toBeUndefined();
    await storeA.set('k', 'w', 60_000);
    await hears(heard, 'k', 2);
    expect(await storeB.get('k')).toBe('w');
    expect(localCopy(storeB, 'k')).toBe('w');
  });

  it('the subscriber is closed: the copies are dropped and reads go to Redis', async () => {
    const prefix = uniquePrefix();
    const b = counting(clientB);
    const storeA = await live(clientA, prefix);
    const storeB = await live(b, prefix);
    const heard = heardBy(storeB);
    await storeA.set('k', 'v', 60_000);
    await hears(heard, 'k');
    await storeB.get('k');
    expect(localCopy(storeB, 'k')).toBe('v');
    await storeB.close?.();
    expect(trusted(storeB)).toBe(false);
    expect(localCopy(storeB, 'k')).toBeUndefined();
    const before = b.gets;
    expect(await storeB.get('k')).toBe('v');
    expect(b.gets).toBe(before + 1);
    expect(localCopy(storeB, 'k')).toBeUndefined(); // nothing kept while untrusted
  });

  it('no probe comes back (PUBLISH swallowed): never trusted, every read goes to Redis', async () => {
    const prefix = uniquePrefix();
    const b = counting(clientB);
    const silent = { ...b, publish: () => Promise.resolve(0) } as RedisCacheClient;
    Object.defineProperty(silent, 'isReady', { get: () => clientB.isReady });
    const store = redisCache(silent, { prefix, logger: quiet, localCache: true }) as Store;
    stores.push(store);
    await clientA.set(`${prefix}k`, '"v"');
    // Several heartbeats pass without a probe coming back.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(trusted(store)).toBe(false);
    expect(await store.get('k')).toBe('v');
    expect(localCopy(store, 'k')).toBeUndefined();
  });

  it('a GET in flight when another instance changes the key does not keep its (old) answer', async () => {
    const prefix = uniquePrefix();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slow = false;
    const b = counting(clientB);
    const slowB = {
      ...b,
      // Reads the value at once (the old one), hands it back only after the gate opens.
      get: async (key: string) => {
        const answer = await clientB.get(key);
        if (slow) await gate;
        return answer;
      },
    } as RedisCacheClient;
    Object.defineProperty(slowB, 'isReady', { get: () => clientB.isReady });
    const storeA = await live(clientA, prefix);
    const storeB = await live(slowB, prefix);
    const heard: string[] = [];
    invalidationChannelOf(storeB)?.onInvalidate((key) => heard.push(key));
    await storeA.set('k', 'old', 60_000);
    await vi.waitFor(() => {
      expect(heard).toContain('k');
    });

    slow = true;
    const reading = storeB.get('k');
    await new Promise((resolve) => setTimeout(resolve, 20)); // the GET has answered 'old'
    await storeA.set('k', 'new', 60_000);
    await vi.waitFor(() => {
      expect(heard.filter((key) => key === 'k')).toHaveLength(2);
    });
    release();
    expect(await reading).toBe('old'); // concurrent with the write: either answer is right
    expect(localCopy(storeB, 'k')).toBeUndefined(); // ... but the old one is not kept
    slow = false;
    expect(await storeB.get('k')).toBe('new');
    expect(localCopy(storeB, 'k')).toBe('new');
  });

  it('a GET that started before the channel was trusted keeps nothing, even when it ends after', async () => {
    const prefix = uniquePrefix();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowB = {
      ...counting(clientB),
      get: async (key: string) => {
        const answer = await clientB.get(key);
        await gate;
        return answer;
      },
    } as RedisCacheClient;
    Object.defineProperty(slowB, 'isReady', { get: () => clientB.isReady });
    await clientA.set(`${prefix}k`, JSON.stringify('before'));
    const storeB = redisCache(slowB, { prefix, logger: quiet, localCache: true }) as Store;
    stores.push(storeB);
    expect(trusted(storeB)).toBe(false); // subscribing and probing take a round trip or two
    // Read before the subscription is live: a change announced meanwhile would be missed.
    const reading = storeB.get('k');
    await vi.waitFor(() => {
      expect(trusted(storeB)).toBe(true);
    });
    release();
    expect(await reading).toBe('before');
    expect(localCopy(storeB, 'k')).toBeUndefined();
    expect(await storeB.get('k')).toBe('before'); // started trusted: kept
    expect(localCopy(storeB, 'k')).toBe('before');
  });

  it('a local copy is dropped after maxAgeMs even without any invalidation', async () => {
    const prefix = uniquePrefix();
    const store = await live(clientB, prefix, { maxAgeMs: 5_000 });
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    await store.set('k', 'v', 600_000);
    expect(localCopy(store, 'k')).toBe('v');
    vi.setSystemTime(Date.now() + 4_999);
    expect(localCopy(store, 'k')).toBe('v');
    vi.setSystemTime(Date.now() + 2);
    expect(localCopy(store, 'k')).toBeUndefined();
    expect(await store.get('k')).toBe('v'); // from Redis, kept again
    expect(localCopy(store, 'k')).toBe('v');
    // A shorter TTL given at write time bounds the copy too.
    await store.set('short', 's', 1_000);
    vi.setSystemTime(Date.now() + 1_001);
    expect(localCopy(store, 'short')).toBeUndefined();
  });

  it('beyond max copies the least recently used go', async () => {
    const prefix = uniquePrefix();
    const store = await live(clientB, prefix, { max: 2 });
    await store.set('a', 1, 60_000);
    await store.set('b', 2, 60_000);
    await store.set('c', 3, 60_000);
    expect(localCopy(store, 'a')).toBeUndefined();
    expect(localCopy(store, 'b')).toBe(2);
    expect(localCopy(store, 'c')).toBe(3);
    expect(await store.get('a')).toBe(1); // still in Redis
  });

  it('localCache options are validated: ERR_CONFIG naming each option', () => {
    expect(() => redisCache(clientA, { localCache: { max: 0, maxAgeMs: -1 } })).toThrow(
      /localCache\.max: must be a positive integer[\s\S]*localCache\.maxAgeMs: must be a positive number/,
    );
    expect(() => redisCache(clientA, { localCache: { ttl: 5 } as never })).toThrow(/ttl: unknown option/);
    expect(() => redisCache(clientA, { localCache: 'yes' as never })).toThrow(/localCache/);
    const noDuplicate = { get: clientA.get, set: clientA.set, del: clientA.del, eval: clientA.eval };
    expect(() => redisCache(noDuplicate as RedisCacheClient, { localCache: true })).toThrow(
      /localCache: the client must have duplicate\(\) and publish\(\)/,
    );
    try {
      redisCache(clientA, { localCache: { max: 0 } });
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_CONFIG' });
    }
  });

  it('without localCache nothing is kept in process and nothing is published', async () => {
    const store = redisCache(clientA, { prefix: uniquePrefix(), logger: quiet }) as Store;
    expect(store[kGetSync]).toBeUndefined();
    expect(invalidationChannelOf(store)).toBeUndefined();
    await store.set('k', 'v', 60_000);
    expect(await store.get('k')).toBe('v');
    await store.close?.(); // nothing to close
  });

  describe('a RESP3 client with clientSideCache (server-assisted client-side caching)', () => {
    it('works, and the same text from the client is not parsed twice (the same object comes back)', async () => {
      const resp3 = createClient({
        RESP: 3,
        clientSideCache: { ttl: 0, maxEntries: 1000 },
        socket: { path: redis.socket, tls: false },
      });
      resp3.on('error', () => undefined);
      await resp3.connect();
      try {
        const prefix = uniquePrefix();
        const plain = redisCache(resp3, { prefix, logger: quiet });
        await plain.set('k', { value: ['a', 'b'] }, 60_000);
        const first = await plain.get('k');
        expect(first).toEqual({ value: ['a', 'b'] });
        expect(await plain.get('k')).toBe(first);
        // Another instance changes it: Redis invalidates the client's copy, a new object is parsed.
        await clientA.set(`${prefix}k`, '{"value":["c"]}');
        await vi.waitFor(async () => {
          expect(await plain.get('k')).toEqual({ value: ['c'] });
        });

        // localCache on a RESP3 client too (its duplicate subscribes over RESP3).
        const withLocal = await live(resp3, prefix);
        const other = await live(clientA, prefix);
        const heard = heardBy(withLocal);
        await other.set('x', 1, 60_000);
        await hears(heard, 'x');
        expect(await withLocal.get('x')).toBe(1);
        expect(localCopy(withLocal, 'x')).toBe(1);
        await other.set('x', 2, 60_000);
        await vi.waitFor(() => {
          expect(localCopy(withLocal, 'x')).toBeUndefined();
        });
        expect(await withLocal.get('x')).toBe(2);
      } finally {
        await Promise.all(stores.splice(0).map(closeStore));
        resp3.destroy();
      }
    });
  });
});
