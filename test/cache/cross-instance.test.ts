import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCachedLoader,
  type CachedLoader,
  type CachedLoaderOptions,
  type LoadRequest,
} from '../../src/cache/cached-loader.js';
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
  type InstanceOptions = Pick<
    CachedLoaderOptions,
    'lockTtlMs' | 'lockWaitMs' | 'storeTimeoutMs' | 'now' | 'sleep'
  >;
  /** `options` for all, `own[i]` added for instance `i`. */
  function instances(options: InstanceOptions = {}, own: InstanceOptions[] = []): Instance[] {
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
          ...own[index],
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
    let clock = Date.now();
    const all = instances({ now: () => clock });
    let calls = 0;
    let finishRefresh!: () => void;
    const refreshing = new Promise<void>((resolve) => {
      finishRefresh = resolve;
    });
    const load = async (): Promise<string[]> => {
      calls++;
      if (calls > 1) await refreshing; // the refresh takes until the test ends it
      return [`v${calls}`];
    };
    const stalingRequest = request(load, { freshMs: 50 });
    await all[0]!.loader.get(stalingRequest);
    clock += 80; // now stale on every instance

    const settled: string[] = [];
    const results = all.map((instance) =>
      instance.loader.get(stalingRequest).then((value) => {
        settled.push(value[0]!);
        return value;
      }),
    );
    // Without waiting: two instances answer stale while the refresh is still running.
    await expect.poll(() => settled).toEqual(['v1', 'v1']);
    expect(calls).toBe(2);
    finishRefresh();
    const values = (await Promise.all(results)).map((value) => value[0]);
    expect(values.sort()).toEqual(['v1', 'v1', 'v2']);
    expect(settled).toEqual(['v1', 'v1', 'v2']);
  });

  it('the lock holder dies: another instance takes over once the lock expires', async () => {
    // lockWaitMs far above the lock TTL: taking over can only come from the lock expiring.
    let naps = 0;
    const sleep = (ms: number): Promise<void> => {
      naps++;
      return new Promise((resolve) => setTimeout(resolve, ms));
    };
    const [a, b] = instances({ lockTtlMs: 300 }, [{}, { lockWaitMs: 60_000, sleep }]);
    let bCalls = 0;
    // Instance A "dies" while loading: its load never settles, its lock is never released.
    const aHoldsTheLock = new Promise<void>((resolve) => {
      void a!.loader.get(
        request(() => {
          resolve();
          return new Promise<never>(() => undefined);
        }),
      );
    });
    await aHoldsTheLock;

    const value = await b!.loader.get(
      request(() => {
        bCalls++;
        return Promise.resolve(['from-b']);
      }),
    );
    expect(value).toEqual(['from-b']);
    expect(bCalls).toBe(1);
    expect(naps).toBeGreaterThan(0); // it did wait for A's lock...
    expect(b!.logger.warnings).toEqual([]); // ...and took over when it expired, not after lockWaitMs
  });

  it('the lock holder fails: a waiting instance takes over at once', async () => {
    // Lock TTL and wait beyond the test's timeout: only A's release can let B load.
    const [a, b] = instances({ lockTtlMs: 60_000, lockWaitMs: 60_000 });
    let bCalls = 0;
    let failA!: () => void;
    let aHoldsTheLock!: () => void;
    const locked = new Promise<void>((resolve) => {
      aHoldsTheLock = resolve;
    });
    const failing = a!.loader.get(
      request(
        () =>
          new Promise<never>((_resolve, reject) => {
            aHoldsTheLock();
            failA = () => {
              reject(upstreamUnavailable('The CERN Authorization Service API'));
            };
          }),
      ),
    );
    await locked;
    const fromB = b!.loader.get(
      request(() => {
        bCalls++;
        return Promise.resolve(['from-b']);
      }),
    );
    failA();
    await expect(failing).rejects.toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(await fromB).toEqual(['from-b']);
    expect(bCalls).toBe(1);
  });

  it('waiting is bounded: after lockWaitMs an instance loads by itself, with a warning', async () => {
    // B's clock moves only when it sleeps between polls (its Redis calls stay real).
    let clock = Date.now();
    const started = clock;
    const sleep = (ms: number): Promise<void> => {
      clock += ms;
      return Promise.resolve();
    };
    const [a, b] = instances({ lockTtlMs: 30_000 }, [{}, { lockWaitMs: 300, now: () => clock, sleep }]);
    const aHoldsTheLock = new Promise<void>((resolve) => {
      void a!.loader.get(
        request(() => {
          resolve();
          return new Promise<never>(() => undefined);
        }),
      );
    });
    await aHoldsTheLock;
    const value = await b!.loader.get(request(() => Promise.resolve(['impatient'])));
    expect(value).toEqual(['impatient']);
    expect(clock - started).toBeGreaterThanOrEqual(300);
    // Polls are jittered: delay/2 + random × delay, the delay capped at 100 ms, so at most 150 ms apart.
    expect(clock - started).toBeLessThan(300 + 150);
    expect(b!.logger.warnings.join('\n')).toMatch(
      /Another instance has been loading this cache entry too long; loading it here \(entry=groups of jdoe /,
    );
  });

  // Last: it stops the server.
  it('Redis down: each instance loads by itself and still answers', async () => {
    // Store calls that waited for their timeout would outlast the test: they must fail at once.
    const all = instances({ storeTimeoutMs: 60_000 });
    await redis.kill();
    let calls = 0;
    const load = async (): Promise<string[]> => {
      calls++;
      await sleep(20);
      return ['degraded'];
    };
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => all[i % all.length]!.loader.get(request(load))),
    );
    expect(results.every((groups) => groups[0] === 'degraded')).toBe(true);
    expect(calls).toBe(3); // one per instance: the in-process single flight still holds
    for (const instance of all) {
      expect(instance.logger.warnings.join('\n')).toMatch(
        /Redis cache failed, treating it as a cache miss: .*\(operation=\w+\)/,
      );
    }
  });
});
