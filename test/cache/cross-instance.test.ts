import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCachedLoader, type CachedLoader, type LoadRequest } from '../../src/cache/cached-loader.js';
import { redisCache } from '../../src/cache/redis.js';
import { upstreamUnavailable } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { redisAvailable, startRedis, type TestRedis, type TestRedisClient } from '../helpers/redis.js';
import { logLine } from '../helpers/log-lines.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => warnings.push(logLine(args)),
    error: (...args: unknown[]) => warnings.push(logLine(args)),
  };
}

interface Instance {
  name: string;
  loader: CachedLoader;
  logger: ReturnType<typeof recordingLogger>;
}

let counter = 0;

describe.skipIf(!redisAvailable())('cross-instance single flight (real Redis)', () => {
  let redis: TestRedis;
  let clients: TestRedisClient[];

  beforeAll(async () => {
    redis = await startRedis();
    // One client per simulated instance, as separate processes would have.
    clients = await Promise.all([redis.client(), redis.client(), redis.client()]);
  });

  afterAll(async () => {
    await redis.stop();
  });

  /** Three "instances": own redisCache, own loader (own in-process single flight), one Redis. */
  function instances(options: { lockTtlMs?: number; lockWaitMs?: number } = {}): Instance[] {
    const prefix = `x${++counter}:`;
    return clients.map((client, index) => {
      const logger = recordingLogger();
      return {
        name: `instance-${index}`,
        logger,
        loader: createCachedLoader({
          store: redisCache(client, { prefix, logger }),
          logger,
          ...options,
        }),
      };
    });
  }

  function request(load: () => Promise<string[]>, overrides: Partial<LoadRequest<string[]>> = {}) {
    return {
      key: 'cern-sso:v1:groups:jdoe',
      description: 'groups of jdoe',
      freshMs: 60_000,
      staleMs: 60_000,
      load,
      ...overrides,
    } satisfies LoadRequest<string[]>;
  }

  it('100 concurrent cold gets spread over 3 instances make exactly one upstream call', async () => {
    const all = instances();
    let calls = 0;
    const load = async (): Promise<string[]> => {
      calls++;
      await sleep(100);
      return ['it-dep', `load-${calls}`];
    };
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => all[i % all.length]!.loader.get(request(load))),
    );
    expect(calls).toBe(1);
    expect(new Set(results.map((groups) => groups.join()))).toEqual(new Set(['it-dep,load-1']));
    // ...and afterwards every instance serves it from Redis.
    await Promise.all(all.map((instance) => instance.loader.get(request(load))));
    expect(calls).toBe(1);
  });

  it('one upstream call per key, for many keys at once', async () => {
    const all = instances();
    const calls = new Map<string, number>();
    const results = await Promise.all(
      Array.from({ length: 90 }, (_, i) => {
        const login = `user${i % 10}`;
        return all[i % all.length]!.loader.get(
          request(
            async () => {
              calls.set(login, (calls.get(login) ?? 0) + 1);
              await sleep(30);
              return [login];
            },
            { key: `cern-sso:v1:groups:${login}` },
          ),
        );
      }),
    );
    expect([...calls.values()]).toEqual(Array.from({ length: 10 }, () => 1));
    results.forEach((groups, i) => {
      expect(groups).toEqual([`user${i % 10}`]);
    });
  });

  it('a stale entry is refreshed once; the other instances serve it stale without waiting', async () => {
    const all = instances();
    let calls = 0;
    const load = async (): Promise<string[]> => {
      calls++;
      if (calls > 1) await sleep(300);
      return [`v${calls}`];
    };
    const stalingRequest = request(load, { freshMs: 50 });
    await all[0]!.loader.get(stalingRequest);
    await sleep(80); // now stale on every instance

    const started = performance.now();
    const timed = all.map(async (instance) => {
      const value = await instance.loader.get(stalingRequest);
      return { value, ms: performance.now() - started };
    });
    const results = await Promise.all(timed);
    expect(calls).toBe(2);
    const refreshed = results.filter((r) => r.value[0] === 'v2');
    const servedStale = results.filter((r) => r.value[0] === 'v1');
    expect(refreshed).toHaveLength(1);
    expect(servedStale).toHaveLength(2);
    // Without waiting: each stale answer came before the refresh (which takes 300 ms) finished.
    for (const r of servedStale) expect(r.ms).toBeLessThan(refreshed[0]!.ms);
  });

  it('the lock holder dies: another instance takes over once the lock expires', async () => {
    const [a, b] = instances({ lockTtlMs: 300 });
    let bCalls = 0;
    // Instance A "dies" while loading: its load never settles, its lock is never released.
    void a!.loader.get(request(() => new Promise<never>(() => undefined)));
    await sleep(50); // A holds the lock now

    const started = performance.now();
    const value = await b!.loader.get(
      request(() => {
        bCalls++;
        return Promise.resolve(['from-b']);
      }),
    );
    const waited = performance.now() - started;
    expect(value).toEqual(['from-b']);
    expect(bCalls).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(200); // it did wait for A's lock...
    expect(waited).toBeLessThan(1500); // ...but not much longer than the lock TTL
  });

  it('the lock holder fails: a waiting instance takes over at once', async () => {
    const [a, b] = instances();
    let bCalls = 0;
    const failing = a!.loader.get(
      request(async () => {
        await sleep(150);
        throw upstreamUnavailable('The CERN Authorization Service API');
      }),
    );
    await sleep(30);
    const started = performance.now();
    const fromB = b!.loader.get(
      request(() => {
        bCalls++;
        return Promise.resolve(['from-b']);
      }),
    );
    await expect(failing).rejects.toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(await fromB).toEqual(['from-b']);
    expect(bCalls).toBe(1);
    expect(performance.now() - started).toBeLessThan(1000); // not the 15 s lock TTL
  });

  it('waiting is bounded: after lockWaitMs an instance loads by itself, with a warning', async () => {
    const [a, b] = instances({ lockTtlMs: 30_000, lockWaitMs: 300 });
    void a!.loader.get(request(() => new Promise<never>(() => undefined)));
    await sleep(50);
    const started = performance.now();
    const value = await b!.loader.get(request(() => Promise.resolve(['impatient'])));
    expect(value).toEqual(['impatient']);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(b!.logger.warnings.join('\n')).toMatch(/Another instance has been loading groups of jdoe/);
  });

  // Last: it stops the server.
  it('Redis down: each instance loads by itself and still answers', async () => {
    const all = instances();
    await redis.kill();
    let calls = 0;
    const load = async (): Promise<string[]> => {
      calls++;
      await sleep(20);
      return ['degraded'];
    };
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => all[i % all.length]!.loader.get(request(load))),
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(results.every((groups) => groups[0] === 'degraded')).toBe(true);
    expect(calls).toBe(3); // one per instance: the in-process single flight still holds
    for (const instance of all) {
      expect(instance.logger.warnings.join('\n')).toMatch(/Redis cache \w+ failed/);
    }
  });
});
