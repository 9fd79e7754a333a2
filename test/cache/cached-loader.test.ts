import { describe, expect, it, vi } from 'vitest';
import { createCachedLoader, type CacheEntry, type LoadRequest } from '../../src/cache/cached-loader.js';
import { memoryCache } from '../../src/cache/memory.js';
import type { CacheStore } from '../../src/cache/types.js';
import { CernSsoError, upstreamUnavailable } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { logLine } from '../helpers/log-lines.js';

const MINUTE = 60_000;

function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => warnings.push(logLine(args)),
    error: () => undefined,
  };
}

/** A store that records what was set, with TTLs, on top of a Map. */
function recordingStore(): CacheStore & { entries: Map<string, unknown>; ttls: Map<string, number> } {
  const entries = new Map<string, unknown>();
  const ttls = new Map<string, number>();
  return {
    entries,
    ttls,
    get: (key) => Promise.resolve(entries.get(key)),
    set: (key, value, ttlMs) => {
      entries.set(key, value);
      ttls.set(key, ttlMs);
      return Promise.resolve();
    },
    delete: (key) => {
      entries.delete(key);
      return Promise.resolve();
    },
  };
}

function setup(store: CacheStore = memoryCache()) {
  const clock = fakeClock();
  const logger = recordingLogger();
  const loader = createCachedLoader({
    store,
    logger,
    now: clock.now,
    retryBackoffMs: 30_000,
    storeTimeoutMs: 200,
  });
  let calls = 0;
  let behaviour: () => Promise<string[]> = () => Promise.resolve([`v${calls}`]);
  const request: LoadRequest<string[]> = {
    key: 'cern-sso:v1:test:jdoe',
    description: 'groups of jdoe',
    freshMs: 30 * MINUTE,
    staleMs: 7 * 24 * 60 * MINUTE,
    load: () => {
      calls++;
      return behaviour();
    },
  };
  return {
    clock,
    logger,
    loader,
    request,
    calls: () => calls,
    loadsWith: (fn: () => Promise<string[]>) => {
      behaviour = fn;
    },
  };
}

const outage = (): Promise<never> =>
  Promise.reject(upstreamUnavailable('The CERN Authorization Service API'));

describe('createCachedLoader', () => {
  it('loads on a miss and serves fresh entries without calling upstream', async () => {
    const t = setup();
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    t.clock.advance(29 * MINUTE);
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(t.calls()).toBe(1);
  });

  it('stores { value, freshUntil, staleUntil } with TTL = fresh + stale', async () => {
    const store = recordingStore();
    const t = setup(store);
    await t.loader.get(t.request);
    const entry = store.entries.get(t.request.key) as CacheEntry<string[]>;
    expect(entry.value).toEqual(['v1']);
    expect(entry.freshUntil - t.clock.now()).toBe(30 * MINUTE);
    expect(entry.staleUntil - entry.freshUntil).toBe(7 * 24 * 60 * MINUTE);
    expect(store.ttls.get(t.request.key)).toBe(30 * MINUTE + 7 * 24 * 60 * MINUTE);
  });

  it('refreshes a stale entry when upstream answers', async () => {
    const t = setup();
    await t.loader.get(t.request);
    t.clock.advance(31 * MINUTE);
    expect(await t.loader.get(t.request)).toEqual(['v2']);
    expect(t.calls()).toBe(2);
  });

  it('serves stale data with a warning when the refresh hits an outage, then backs off', async () => {
    const t = setup();
    await t.loader.get(t.request);
    t.clock.advance(31 * MINUTE);
    t.loadsWith(outage);
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(t.calls()).toBe(2);
    expect(t.logger.warnings).toHaveLength(1);
    expect(t.logger.warnings[0]).toMatch(
      /^Serving a stale cache entry because its refresh failed: .*\(entry=groups of jdoe staleForMs=60000 retryInMs=30000\)$/,
    );

    // Inside the back-off: stale served without asking upstream (no thundering herd).
    t.clock.advance(10_000);
    await Promise.all(Array.from({ length: 50 }, () => t.loader.get(t.request)));
    expect(t.calls()).toBe(2);

    // After the back-off: one new attempt; it succeeds, fresh data again.
    t.clock.advance(21_000);
    t.loadsWith(() => Promise.resolve(['recovered']));
    expect(await t.loader.get(t.request)).toEqual(['recovered']);
    expect(t.calls()).toBe(3);
  });

  it('rejects with 503 ERR_UPSTREAM_UNAVAILABLE and Retry-After when nothing usable is cached', async () => {
    const t = setup();
    t.loadsWith(outage);
    const error = await t.loader.get(t.request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CernSsoError);
    expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect((error as CernSsoError).headers['Retry-After']).toMatch(/^\d+$/);
  });

  it('never caches failures: the first call after the outage reaches upstream', async () => {
    const t = setup();
    t.loadsWith(outage);
    await expect(t.loader.get(t.request)).rejects.toMatchObject({ status: 503 });
    await expect(t.loader.get(t.request)).rejects.toMatchObject({ status: 503 });
    t.loadsWith(() => Promise.resolve(['back']));
    expect(await t.loader.get(t.request)).toEqual(['back']);
    expect(t.calls()).toBe(3);
  });

  it('does not serve data older than staleUntil', async () => {
    const t = setup();
    await t.loader.get(t.request);
    t.clock.advance(30 * MINUTE + 7 * 24 * 60 * MINUTE + 1);
    t.loadsWith(outage);
    await expect(t.loader.get(t.request)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });

  it('does not cover non-outage errors with stale data', async () => {
    const t = setup();
    await t.loader.get(t.request);
    t.clock.advance(31 * MINUTE);
    t.loadsWith(() => Promise.reject(new CernSsoError('ERR_BAD_REQUEST', 'bad filter', { status: 400 })));
    await expect(t.loader.get(t.request)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
  });

  it('wraps custom outage errors in a 503 when nothing is cached', async () => {
    const clock = fakeClock();
    const loader = createCachedLoader({
      store: memoryCache(),
      logger: recordingLogger(),
      now: clock.now,
      isOutage: (error) => error instanceof Error && error.message === 'down',
    });
    const error = await loader
      .get({
        key: 'k',
        description: 'thing',
        freshMs: 1000,
        staleMs: 1000,
        load: () => Promise.reject(new Error('down')),
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });

  it('single-flight: 200 concurrent cold loads make one upstream call', async () => {
    const t = setup();
    let release!: () => void;
    t.loadsWith(
      () =>
        new Promise((resolve) => {
          release = () => {
            resolve(['shared']);
          };
        }),
    );
    const all = Promise.all(Array.from({ length: 200 }, () => t.loader.get(t.request)));
    await vi.waitFor(() => {
      expect(t.calls()).toBe(1);
    });
    release();
    const results = await all;
    expect(results.every((groups) => groups[0] === 'shared')).toBe(true);
    expect(t.calls()).toBe(1);
  });

  it('single-flight also shares failures, then lets the next call retry', async () => {
    const t = setup();
    t.loadsWith(outage);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => t.loader.get(t.request)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(t.calls()).toBe(1);
    t.loadsWith(() => Promise.resolve(['ok']));
    expect(await t.loader.get(t.request)).toEqual(['ok']);
  });

  it('a throwing store degrades to a miss with one warning, never a failed request', async () => {
    const broken: CacheStore = {
      get: () => Promise.reject(new Error('ECONNREFUSED redis')),
      set: () => Promise.reject(new Error('ECONNREFUSED redis')),
      delete: () => Promise.reject(new Error('ECONNREFUSED redis')),
    };
    const t = setup(broken);
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(await t.loader.get(t.request)).toEqual(['v2']);
    await t.loader.delete(t.request.key);
    await t.loader.set(t.request.key, ['x'], 1000, 1000);
    // Rate-limited: one warning per back-off period, not one per call.
    expect(t.logger.warnings).toHaveLength(1);
    expect(t.logger.warnings[0]).toMatch(
      /^Cache store failed, continuing without the cache: .*ECONNREFUSED.*\(operation=get\)$/,
    );
  });

  it('a hanging store counts as a miss after storeTimeoutMs', async () => {
    const hanging: CacheStore = {
      get: () => new Promise(() => undefined),
      set: () => new Promise(() => undefined),
      delete: () => new Promise(() => undefined),
    };
    vi.useFakeTimers();
    try {
      const t = setup(hanging);
      let settled = false;
      const pending = t.loader.get(t.request).finally(() => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(199);
      expect(settled).toBe(false);
      // The read gives up after storeTimeoutMs (200), then the write of the loaded value does.
      await vi.advanceTimersByTimeAsync(1 + 200);
      expect(await pending).toEqual(['v1']);
      expect(t.calls()).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ignores malformed or invalid entries', async () => {
    const store = recordingStore();
    const t = setup(store);
    store.entries.set(t.request.key, { something: 'else' });
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    store.entries.set(t.request.key, {
      value: 42,
      freshUntil: t.clock.now() + MINUTE,
      staleUntil: t.clock.now() + MINUTE,
    });
    const checked = { ...t.request, isValid: (v: unknown): v is string[] => Array.isArray(v) };
    expect(await t.loader.get(checked)).toEqual(['v2']);
  });

  it('set() stores a fresh entry; freshMs may depend on the value; delete() removes it', async () => {
    const t = setup();
    await t.loader.set(t.request.key, ['seeded'], 30 * MINUTE, MINUTE);
    expect(await t.loader.get(t.request)).toEqual(['seeded']);
    expect(t.calls()).toBe(0);
    await t.loader.delete(t.request.key);
    const byValue = {
      ...t.request,
      freshMs: (value: string[]) => (value[0] === 'v1' ? 5000 : 0),
      staleMs: 0,
    };
    expect(await t.loader.get(byValue)).toEqual(['v1']);
    t.clock.advance(4000);
    expect(await t.loader.get(byValue)).toEqual(['v1']);
    t.clock.advance(1001);
    expect(await t.loader.get(byValue)).toEqual(['v2']);
  });

  it('with staleMs 0, an expired entry is not served during an outage', async () => {
    const t = setup();
    const request = { ...t.request, freshMs: 1000, staleMs: 0 };
    await t.loader.get(request);
    t.clock.advance(1001);
    t.loadsWith(outage);
    await expect(t.loader.get(request)).rejects.toMatchObject({ status: 503 });
  });
});

/**
 * A memory store with `lock`/`unlock` that records lock traffic; `holdBy` simulates a lock held
 * by another instance, `failLocks` a store whose lock fails (Redis down).
 */
function lockingStore() {
  const base = memoryCache();
  const locks = new Map<string, string>();
  const log: string[] = [];
  let next = 0;
  const store = {
    ...base,
    locks,
    log,
    failLocks: false,
    /** Runs just after a lock is granted (to simulate a peer racing us). */
    onGranted: undefined as (() => Promise<void>) | undefined,
    holdBy(key: string, token = 'peer'): void {
      locks.set(key, token);
    },
    async lock(key: string, _ttlMs: number): Promise<string | undefined> {
      if (store.failLocks) throw new Error('the Redis client is not ready');
      log.push(`lock ${key}`);
      if (locks.has(key)) return undefined;
      const token = `t${++next}`;
      locks.set(key, token);
      await store.onGranted?.();
      return token;
    },
    unlock(key: string, token: string): Promise<void> {
      log.push(`unlock ${key} ${token}`);
      if (locks.get(key) === token) locks.delete(key);
      return Promise.resolve();
    },
  };
  return store;
}

describe('createCachedLoader with a store that can lock (cross-instance single flight)', () => {
  it('takes load:<key> while loading and releases it after storing the value', async () => {
    const store = lockingStore();
    const t = setup(store);
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(store.log).toEqual([`lock load:${t.request.key}`, `unlock load:${t.request.key} t1`]);
    expect(store.locks.size).toBe(0);
    // A fresh entry needs no lock.
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(store.log).toHaveLength(2);
  });

  it('releases the lock when the load fails', async () => {
    const store = lockingStore();
    const t = setup(store);
    t.loadsWith(outage);
    await expect(t.loader.get(t.request)).rejects.toMatchObject({ status: 503 });
    expect(store.locks.size).toBe(0);
  });

  it('waits for the value another instance is loading instead of calling upstream', async () => {
    const store = lockingStore();
    const t = setup(store);
    store.holdBy(`load:${t.request.key}`);
    const pending = t.loader.get(t.request);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // The peer stores its value, then releases its lock.
    await store.set(
      t.request.key,
      { value: ['from-peer'], freshUntil: t.clock.now() + MINUTE, staleUntil: t.clock.now() + 2 * MINUTE },
      2 * MINUTE,
    );
    store.locks.clear();
    expect(await pending).toEqual(['from-peer']);
    expect(t.calls()).toBe(0);
  });

  it('re-reads after taking the lock: a value stored by a peer meanwhile is not loaded again', async () => {
    const store = lockingStore();
    const t = setup(store);
    store.onGranted = async () => {
      await store.set(
        t.request.key,
        { value: ['raced'], freshUntil: t.clock.now() + MINUTE, staleUntil: t.clock.now() + MINUTE },
        MINUTE,
      );
    };
    expect(await t.loader.get(t.request)).toEqual(['raced']);
    expect(t.calls()).toBe(0);
    expect(store.locks.size).toBe(0);
  });

  it('serves a stale entry at once while another instance refreshes it', async () => {
    const store = lockingStore();
    const t = setup(store);
    await t.loader.get(t.request);
    t.clock.advance(31 * MINUTE);
    store.holdBy(`load:${t.request.key}`);
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(t.calls()).toBe(1);
  });

  it('loads by itself when the lock fails (no coordination, not a failed request)', async () => {
    const store = lockingStore();
    const t = setup(store);
    store.failLocks = true;
    expect(await t.loader.get(t.request)).toEqual(['v1']);
    expect(t.logger.warnings[0]).toMatch(/^Cache store failed.*\(operation=lock\)$/);
  });

  it('stops waiting after lockWaitMs and loads by itself', async () => {
    const store = lockingStore();
    const logger = recordingLogger();
    let clock = 0;
    const naps: number[] = [];
    const sleep = (ms: number): Promise<void> => {
      naps.push(ms);
      clock += ms;
      return Promise.resolve();
    };
    const loader = createCachedLoader({ store, logger, lockWaitMs: 100, now: () => clock, sleep });
    store.holdBy('load:k');
    const value = await loader.get({
      key: 'k',
      description: 'thing',
      freshMs: MINUTE,
      staleMs: 0,
      load: () => Promise.resolve('mine'),
    });
    expect(value).toBe('mine');
    // It polled (backing off from about 25 ms) for lockWaitMs of its clock, then loaded itself.
    expect(naps.length).toBeGreaterThan(1);
    expect(clock).toBeGreaterThanOrEqual(100);
    expect(clock - (naps.at(-1) ?? 0)).toBeLessThan(100);
    expect(logger.warnings[0]).toMatch(
      /^Another instance has been loading this cache entry too long; loading it here \(entry=thing lockWaitMs=100\)$/,
    );
  });

  it('rejects nonsensical lock options', () => {
    expect(() =>
      createCachedLoader({ store: memoryCache(), logger: recordingLogger(), lockTtlMs: 0 }),
    ).toThrow(/lockTtlMs/);
  });
});
