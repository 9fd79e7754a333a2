import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { redisCache } from '../../src/cache/redis.js';
import type { CacheStore } from '../../src/cache/types.js';
import type { Logger } from '../../src/logger.js';
import { redisAvailable, startRedis, type TestRedis, type TestRedisClient } from '../helpers/redis.js';
import { logLine } from '../helpers/log-lines.js';

function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    debug: () => undefined,
    info: (...args: unknown[]) => infos.push(logLine(args)),
    warn: (...args: unknown[]) => warnings.push(logLine(args)),
    error: (...args: unknown[]) => warnings.push(logLine(args)),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

let counter = 0;
/** A fresh prefix per test, so tests sharing the server never see each other's keys. */
const uniquePrefix = (): string => `test${++counter}:`;

describe.skipIf(!redisAvailable())('redisCache (real Redis)', () => {
  let redis: TestRedis;
  let client: TestRedisClient & { errors: Error[] };

  beforeAll(async () => {
    redis = await startRedis();
    client = await redis.client();
  });

  afterAll(async () => {
    await redis.stop();
  });

  function store(prefix = uniquePrefix()): CacheStore & { logger: ReturnType<typeof recordingLogger> } {
    const logger = recordingLogger();
    return Object.assign(redisCache(client, { prefix, logger }), { logger });
  }

  it('get/set/delete round-trip nested JSON values', async () => {
    const cache = store();
    const value = {
      value: ['it-dep', 'CERN Users'],
      freshUntil: 1_700_000_000_000,
      nested: { list: [1, 'two', null, { deep: true }], empty: {}, unicode: 'Zürich ✓' },
    };
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('k', value, 60_000);
    expect(await cache.get('k')).toEqual(value);
    await cache.set('n', null, 60_000);
    expect(await cache.get('n')).toBeNull();
    await cache.set('s', 'text', 60_000);
    expect(await cache.get('s')).toBe('text');
    await cache.delete('k');
    expect(await cache.get('k')).toBeUndefined();
    await cache.delete('missing'); // no error
  });

  it('stores under prefix + key, as JSON, with a PX TTL (whole ms, at least 1)', async () => {
    const cache = store('pfx:');
    await cache.set('cern-sso:v1:groups:jdoe', ['a'], 60_000.4);
    expect(await client.get('pfx:cern-sso:v1:groups:jdoe')).toBe('["a"]');
    const ttl = await client.pTTL('pfx:cern-sso:v1:groups:jdoe');
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_001);
    await cache.set('zero', 'x', 0); // clamped to 1 ms, not an error and not "forever"
    await sleep(20);
    expect(await cache.get('zero')).toBeUndefined();
    expect(cache.logger.warnings).toEqual([]);
  });

  it('expires entries after their TTL', async () => {
    const cache = store();
    await cache.set('short', { a: 1 }, 50);
    expect(await cache.get('short')).toEqual({ a: 1 });
    await sleep(120);
    expect(await cache.get('short')).toBeUndefined();
  });

  it('isolates prefixes', async () => {
    const a = store('app-a:');
    const b = store('app-b:');
    await a.set('shared-key', 'from a', 60_000);
    expect(await b.get('shared-key')).toBeUndefined();
    await b.set('shared-key', 'from b', 60_000);
    expect(await a.get('shared-key')).toBe('from a');
    await a.delete('shared-key');
    expect(await b.get('shared-key')).toBe('from b');
  });

  it('adds no prefix by default (library keys are namespaced already)', async () => {
    const cache = redisCache(client, { logger: recordingLogger() });
    await cache.set('default-prefix-probe', 1, 60_000);
    expect(await client.get('default-prefix-probe')).toBe('1');
    await cache.delete('default-prefix-probe');
  });

  it('set(key, undefined) removes the key', async () => {
    const cache = store();
    await cache.set('k', 'v', 60_000);
    await cache.set('k', undefined, 60_000);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('does not store values JSON cannot represent (warning, older value removed)', async () => {
    const cache = store();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await cache.set('k', 'old', 60_000);
    await cache.set('k', circular, 60_000);
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('big', 10n, 60_000);
    await cache.set('fn', () => 1, 60_000);
    expect(await cache.get('big')).toBeUndefined();
    expect(await cache.get('fn')).toBeUndefined();
    expect(cache.logger.warnings).toHaveLength(3);
    expect(cache.logger.warnings[0]).toMatch(
      /^Redis cache: not storing a value that cannot be serialised as JSON: .*\(key=k\)$/,
    );
  });

  it('treats non-JSON data in Redis as a miss, without evaluating it', async () => {
    const cache = store('raw:');
    (globalThis as Record<string, unknown>).pwned = false;
    await client.set('raw:k', 'globalThis.pwned = true');
    expect(await cache.get('k')).toBeUndefined();
    expect((globalThis as Record<string, unknown>).pwned).toBe(false);
    expect(cache.logger.warnings[0]).toMatch(/not JSON/);
  });

  describe('lock/unlock', () => {
    it('is exclusive until unlocked, and stored under <prefix>lock:<key>', async () => {
      const cache = store('locks:');
      const token = await cache.lock!('load:k', 10_000);
      expect(token).toEqual(expect.any(String));
      expect(await client.get('locks:lock:load:k')).toBe(token);
      expect(await cache.lock!('load:k', 10_000)).toBeUndefined();
      // Another instance (its own redisCache) is excluded too.
      expect(await redisCache(client, { prefix: 'locks:' }).lock!('load:k', 10_000)).toBeUndefined();
      await cache.unlock!('load:k', token!);
      const again = await cache.lock!('load:k', 10_000);
      expect(again).toEqual(expect.any(String));
      expect(again).not.toBe(token);
    });

    it('expires by itself after its TTL', async () => {
      const cache = store();
      expect(await cache.lock!('k', 50)).toEqual(expect.any(String));
      expect(await cache.lock!('k', 50)).toBeUndefined();
      await sleep(120);
      expect(await cache.lock!('k', 50)).toEqual(expect.any(String));
    });

    it('is released only by its owner', async () => {
      const cache = store('owner:');
      const first = await cache.lock!('k', 50);
      await sleep(120); // first expired...
      const second = await cache.lock!('k', 10_000); // ...and someone else took it
      expect(second).toEqual(expect.any(String));
      await cache.unlock!('k', first!); // a late unlock of the first holder must not free it
      expect(await client.get('owner:lock:k')).toBe(second);
      expect(await cache.lock!('k', 10_000)).toBeUndefined();
      await cache.unlock!('k', 'forged-token');
      expect(await cache.lock!('k', 10_000)).toBeUndefined();
      await cache.unlock!('k', second!);
      expect(await client.get('owner:lock:k')).toBeNull();
    });

    it('does not collide with a data key of the same name', async () => {
      const cache = store();
      await cache.set('k', 'data', 60_000);
      const token = await cache.lock!('k', 10_000);
      expect(token).toEqual(expect.any(String));
      expect(await cache.get('k')).toBe('data');
    });
  });

  it('Redis stopped mid-test: misses at once with a warning, lock rejects; works again after a restart', async () => {
    const own = await redis.client(); // a client of its own, so the shared one stays out of it
    const logger = recordingLogger();
    // A command timeout beyond the test's: "at once" means no command waits for it.
    const cache = redisCache(own, { prefix: uniquePrefix(), logger, commandTimeoutMs: 60_000 });
    await cache.set('k', 'before', 60_000);
    expect(await cache.get('k')).toBe('before');

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // Commands in flight while the server goes away must settle too.
      const inFlight = Promise.all([cache.get('k'), cache.set('x', 1, 60_000), cache.delete('y')]);
      await redis.kill();
      await inFlight;

      expect(await cache.get('k')).toBeUndefined();
      await cache.set('k', 'during', 60_000);
      await cache.delete('k');
      await expect(cache.lock!('load:k', 1000)).rejects.toThrow(/not ready|Redis/);
      await cache.unlock!('load:k', 'token'); // never rejects

      // Many failures, few warnings (rate-limited).
      for (let i = 0; i < 20; i++) await cache.get('k');
      expect(logger.warnings.length).toBeGreaterThanOrEqual(1);
      expect(logger.warnings.length).toBeLessThanOrEqual(2);
      expect(logger.warnings[0]).toMatch(
        /^Redis cache failed, treating it as a cache miss: .*\(operation=\w+\)$/,
      );
      expect(own.errors.length).toBeGreaterThan(0); // node-redis reported it through 'error'

      await redis.restart();
      await until(() => own.isReady);
      expect(await cache.get('k')).toBeUndefined(); // no persistence: the server restarted empty
      await cache.set('k', 'after', 60_000);
      expect(await cache.get('k')).toBe('after');
      expect(await cache.lock!('load:k', 1000)).toEqual(expect.any(String));
      expect(logger.infos).toContain('Redis cache is available again');
      await sleep(50); // let any late rejection surface
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    // The shared client reconnected as well.
    await until(() => client.isReady);
  });

  it('a client that is not connected is a miss, not a hang', async () => {
    const logger = recordingLogger();
    const unconnected = createClient({ socket: { path: redis.socket, tls: false } }); // connect() never called
    // "Not a hang": a command timeout beyond the test's, so only failing at once passes.
    const cache = redisCache(unconnected, { logger, commandTimeoutMs: 60_000 });
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('k', 1, 1000);
    expect(logger.warnings[0]).toMatch(/not ready/);
  });

  it('a hanging Redis command counts as a miss after commandTimeoutMs', async () => {
    const logger = recordingLogger();
    const hanging = {
      isReady: true,
      get: () => new Promise<never>(() => undefined),
      set: () => new Promise<never>(() => undefined),
      del: () => new Promise<never>(() => undefined),
      eval: () => new Promise<never>(() => undefined),
    };
    vi.useFakeTimers();
    try {
      const cache = redisCache(hanging, { logger, commandTimeoutMs: 50 });
      let missed = false;
      const get = cache.get('k').then((value) => {
        missed = value === undefined;
      });
      await vi.advanceTimersByTimeAsync(49);
      expect(missed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await get;
      expect(missed).toBe(true);
      const set = cache.set('k', 1, 1000);
      await vi.advanceTimersByTimeAsync(50);
      await set;
      const lock = expect(cache.lock!('k', 1000)).rejects.toThrow(/no answer from Redis within 50 ms/);
      await vi.advanceTimersByTimeAsync(50);
      await lock;
    } finally {
      vi.useRealTimers();
    }
  });
});
