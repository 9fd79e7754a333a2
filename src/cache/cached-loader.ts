import { CernSsoError, upstreamUnavailable } from '../errors.js';
import { describeError, type Logger } from '../logger.js';
import { sleep as defaultSleep } from '../single-flight.js';
import { kGetSync, type CacheStore, type SyncReadable } from './types.js';

/**
 * What the loader keeps under a key. Plain JSON, so stores that serialise (Redis) work and
 * instances sharing a store share freshness and outage back-off.
 */
export interface CacheEntry<T> {
  value: T;
  /** Epoch ms until which the value is served without asking upstream. */
  freshUntil: number;
  /** Epoch ms until which the value may still be served while upstream fails. */
  staleUntil: number;
  /** Epoch ms before which no new refresh is attempted (set after a refresh failed). */
  retryAt?: number;
}

/** How to load and keep one cached value. */
export interface LoadRequest<T> {
  /** Store key; build it with `cacheKey()` / `hashedCacheKey()`. */
  key: string;
  /** Fetches the value upstream. Outages must reject with an `ERR_UPSTREAM_UNAVAILABLE` error. */
  load: () => Promise<T>;
  /** How long a loaded value is fresh: a number of ms, or computed from the value (token expiry). */
  freshMs: number | ((value: T) => number);
  /** How long after `freshUntil` the value may still be served when a refresh fails. 0 = never. */
  staleMs: number;
  /** Short human description for logs, e.g. `groups of jdoe`. Never put a secret here. */
  description: string;
  /**
   * Checks a value read back from the store (which may be shared, or hold data written by a
   * buggy client); a value that fails is treated as a miss.
   */
  isValid?: (value: unknown) => value is T;
}

export interface CachedLoaderOptions {
  store: CacheStore & SyncReadable;
  logger: Logger;
  /** After a failed refresh, stale data is served without retrying for this long. Default 30 000. */
  retryBackoffMs?: number;
  /** A store call slower than this counts as failed (a miss). Default 2000. */
  storeTimeoutMs?: number;
  /** Which load failures are outages that stale data may cover. Default: `ERR_UPSTREAM_UNAVAILABLE`. */
  isOutage?: (error: unknown) => boolean;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
  /** How the loader waits between polls of a peer's load; tests inject one. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Cross-instance single flight, used when the store has `lock` (Redis): how long the lock
   * of one load lives. An instance that dies while loading blocks the others at most this long.
   * Should exceed the longest load (about twice the HTTP timeout). Default 15 000.
   */
  lockTtlMs?: number;
  /**
   * Longest time a caller waits for another instance to load a missing value before loading it
   * itself. Default: `lockTtlMs`.
   */
  lockWaitMs?: number;
}

/**
 * Read-through cache with single-flight loading and stale-if-error, on top of any `CacheStore`.
 */
export interface CachedLoader {
  /**
   * The value for `request.key`:
   * - fresh entry: returned without calling upstream;
   * - stale entry (past `freshUntil`, before `staleUntil`): refreshed; if the refresh fails with
   *   an outage, the stale value is served, a warning logged, and no new refresh is attempted
   *   for `retryBackoffMs` (stored in the entry, so every instance backs off);
   * - nothing usable: loaded; an outage rejects with a 503 `ERR_UPSTREAM_UNAVAILABLE` error.
   *
   * Concurrent calls for one key in this process share one store read and one upstream load.
   * Failures are never stored: the first call after an outage ends reaches upstream.
   *
   * When the store has `lock` (Redis), instances sharing it also load each key once between
   * them: before loading, an instance takes the lock `load:<key>`; the others wait for the
   * value to appear in the store (polling every 25 to 100 ms) instead of calling upstream. When
   * the lock goes away without a value (the holder failed or died, and its lock expired), a
   * waiter takes the lock and loads; after `lockWaitMs` a waiter loads regardless. A stale
   * entry whose refresh another instance holds is served at once (stale-while-revalidate). A
   * store whose `lock` fails (Redis down) means no coordination: each instance loads itself.
   */
  get<T>(request: LoadRequest<T>): Promise<T>;
  /** Stores `value` as freshly loaded data (e.g. groups taken from an ID token). */
  set(key: string, value: unknown, freshMs: number, staleMs: number): Promise<void>;
  /** Removes an entry; store failures are logged, not thrown. */
  delete(key: string): Promise<void>;
  /**
   * The fresh value under `key`, synchronously, when the store answers synchronously (memory)
   * and no load is in flight; otherwise `undefined` (use `get`). For checks on every request.
   */
  peek<T>(key: string, isValid?: (value: unknown) => value is T): { value: T } | undefined;
}

/**
 * True for the library's upstream-outage errors (the default `isOutage`). Not the error mapper's
 * classifier (`classifyUpstreamFailure`): that one reads raw openid-client/axios/fetch failures,
 * while loads reach the cache already mapped (see `LoadRequest.load`), so here the question is
 * only "did the mapper call it an outage?" (a misconfiguration is not one: stale data does not
 * hide it).
 */
export function isUpstreamOutage(error: unknown): boolean {
  return error instanceof CernSsoError && error.code === 'ERR_UPSTREAM_UNAVAILABLE';
}

function isEntry(value: unknown): value is CacheEntry<unknown> {
  if (typeof value !== 'object' || value === null || !('value' in value)) return false;
  const entry = value as Partial<Record<keyof CacheEntry<unknown>, unknown>>;
  return (
    Number.isFinite(entry.freshUntil) &&
    Number.isFinite(entry.staleUntil) &&
    (entry.retryAt === undefined || Number.isFinite(entry.retryAt))
  );
}

function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.round(minutes / 60)} h`;
}

const NOT_SETTLED_VALUE = Symbol('not settled');
const NOT_SETTLED = Promise.resolve(NOT_SETTLED_VALUE);

/** Creates a {@link CachedLoader} over `options.store`. */
export function createCachedLoader(options: CachedLoaderOptions): CachedLoader {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const retryBackoffMs = options.retryBackoffMs ?? 30_000;
  const storeTimeoutMs = options.storeTimeoutMs ?? 2000;
  const isOutage = options.isOutage ?? isUpstreamOutage;
  const lockTtlMs = options.lockTtlMs ?? 15_000;
  const lockWaitMs = options.lockWaitMs ?? lockTtlMs;
  if (!(Number.isFinite(lockTtlMs) && lockTtlMs > 0) || !(Number.isFinite(lockWaitMs) && lockWaitMs >= 0)) {
    throw new TypeError('createCachedLoader: lockTtlMs must be positive and lockWaitMs not negative');
  }
  const inFlight = new Map<string, Promise<unknown>>();
  // A dead Redis would otherwise log on every request: one warning per back-off period.
  let lastStoreWarningAt = Number.NEGATIVE_INFINITY;

  function storeFailed(operation: string, error: unknown): void {
    const message = `Cache store ${operation} failed, continuing without the cache: ${describeError(error)}`;
    if (now() - lastStoreWarningAt >= retryBackoffMs) {
      lastStoreWarningAt = now();
      logger.warn(message);
    } else {
      logger.debug(message);
    }
  }

  /** Runs a store call with a deadline, so a hanging store (Redis reconnecting) is a miss. */
  async function withStoreTimeout<R>(operation: string, call: () => Promise<R>): Promise<R> {
    const pending = call();
    // A store that has already answered (memoryCache) needs no timer: a settled promise wins
    // a race against another settled one when listed first. Saves a timer on every cache hit.
    const first = await Promise.race([pending, NOT_SETTLED]);
    if (first !== NOT_SETTLED_VALUE) return first;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${operation} timed out after ${storeTimeoutMs} ms`));
      }, storeTimeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([pending, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function read<T>(request: LoadRequest<T>): Promise<CacheEntry<T> | undefined> {
    let raw: unknown;
    try {
      raw = await withStoreTimeout('get', () => store.get(request.key));
    } catch (error) {
      storeFailed('get', error);
      return undefined;
    }
    if (raw === undefined || raw === null) return undefined;
    if (!isEntry(raw) || (request.isValid !== undefined && !request.isValid(raw.value))) {
      logger.debug(`Ignoring a malformed cache entry for ${request.description}`);
      return undefined;
    }
    return raw as CacheEntry<T>;
  }

  async function write(key: string, entry: CacheEntry<unknown>): Promise<void> {
    const ttlMs = entry.staleUntil - now();
    if (ttlMs <= 0) return;
    try {
      await withStoreTimeout('set', () => store.set(key, entry, ttlMs));
    } catch (error) {
      storeFailed('set', error);
    }
  }

  async function loadAndStore<T>(request: LoadRequest<T>): Promise<T> {
    let value: T;
    try {
      value = await request.load();
    } catch (error) {
      // Nothing usable: an outage becomes a 503 whatever shape the loader's error had.
      if (isOutage(error) && !isUpstreamOutage(error)) throw upstreamUnavailable(request.description, error);
      throw error;
    }
    const loadedAt = now();
    const freshMs = typeof request.freshMs === 'function' ? request.freshMs(value) : request.freshMs;
    if (freshMs > 0 || request.staleMs > 0) {
      const freshUntil = loadedAt + Math.max(0, freshMs);
      await write(request.key, { value, freshUntil, staleUntil: freshUntil + Math.max(0, request.staleMs) });
    }
    return value;
  }

  /**
   * Loads `request` and stores the result. With `stale` (a still usable entry) an outage serves
   * the stale value, logs a warning and stores the retry back-off in the entry.
   */
  async function refresh<T>(request: LoadRequest<T>, stale: CacheEntry<T> | undefined): Promise<T> {
    if (stale === undefined) return loadAndStore(request);
    try {
      return await loadAndStore(request);
    } catch (error) {
      if (!isOutage(error)) throw error;
      const failedAt = now();
      logger.warn(
        `Serving cached ${request.description} (stale for ${humanDuration(failedAt - stale.freshUntil)}) ` +
          `because the refresh failed: ${describeError(error)}; next attempt in ${humanDuration(retryBackoffMs)}`,
      );
      await write(request.key, { ...stale, retryAt: failedAt + retryBackoffMs });
      return stale.value;
    }
  }

  /** The entry's value when it can be served without asking upstream, else `undefined`. */
  function servable<T>(entry: CacheEntry<T> | undefined): { value: T } | undefined {
    if (entry === undefined) return undefined;
    const at = now();
    if (at >= entry.staleUntil) return undefined;
    if (at < entry.freshUntil) return { value: entry.value };
    // Stale: still inside the back-off of a previous failed refresh, serve without asking.
    if (entry.retryAt !== undefined && at < entry.retryAt) return { value: entry.value };
    return undefined;
  }

  function usable<T>(entry: CacheEntry<T> | undefined): CacheEntry<T> | undefined {
    return entry !== undefined && now() < entry.staleUntil ? entry : undefined;
  }

  /**
   * Tries the cross-instance lock of `request`: the token, `undefined` when another instance
   * holds it, or `null` when there is no coordination (no `lock` in the store, or it failed).
   */
  async function tryLock(lockKey: string): Promise<string | undefined | null> {
    const lock = store.lock?.bind(store);
    if (lock === undefined) return null;
    try {
      return await withStoreTimeout('lock', () => lock(lockKey, lockTtlMs));
    } catch (error) {
      storeFailed('lock', error);
      return null;
    }
  }

  async function release(lockKey: string, token: string): Promise<void> {
    const unlock = store.unlock?.bind(store);
    if (unlock === undefined) return; // expires by itself
    try {
      await withStoreTimeout('unlock', () => unlock(lockKey, token));
    } catch (error) {
      storeFailed('unlock', error);
    }
  }

  /** Loads while holding the lock; re-reads first, as a peer may have stored the value meanwhile. */
  async function loadAsHolder<T>(
    request: LoadRequest<T>,
    lockKey: string,
    token: string,
    stale: CacheEntry<T> | undefined,
  ): Promise<T> {
    try {
      const current = await read(request);
      const served = servable(current);
      if (served !== undefined) return served.value;
      // The value is written before the lock is released, so waiters see it when the lock goes.
      return await refresh(request, usable(current) ?? usable(stale));
    } finally {
      await release(lockKey, token);
    }
  }

  /** Another instance is loading `request`: wait for its value, take over if it gives up. */
  async function waitForPeer<T>(request: LoadRequest<T>, lockKey: string): Promise<T> {
    const deadline = now() + lockWaitMs;
    let delayMs = 25;
    for (;;) {
      await sleep(delayMs / 2 + Math.random() * delayMs);
      delayMs = Math.min(delayMs * 2, 100);
      const entry = usable(await read(request));
      if (entry !== undefined) return entry.value;
      const token = await tryLock(lockKey);
      if (token === null) return refresh(request, undefined);
      if (token !== undefined) return loadAsHolder(request, lockKey, token, undefined);
      if (now() >= deadline) {
        logger.warn(
          `Another instance has been loading ${request.description} for over ${humanDuration(lockWaitMs)}; ` +
            'loading it here',
        );
        return refresh(request, undefined);
      }
    }
  }

  async function resolve<T>(request: LoadRequest<T>): Promise<T> {
    const entry = await read(request);
    const served = servable(entry);
    if (served !== undefined) return served.value;
    const stale = usable(entry);
    const lockKey = `load:${request.key}`;
    const token = await tryLock(lockKey);
    if (token === null) return refresh(request, stale);
    if (token !== undefined) return loadAsHolder(request, lockKey, token, stale);
    // Another instance is refreshing: serve what we have, or wait for its value.
    if (stale !== undefined) return stale.value;
    return waitForPeer(request, lockKey);
  }

  const getSync = store[kGetSync];
  /** Entries of the synchronous store whose value already passed `isValid`. */
  const checkedValues = new WeakSet<object>();

  /** A fresh, valid entry read synchronously (in-process store): the hot path of every guard. */
  function freshHit<T>(
    request: Pick<LoadRequest<T>, 'key' | 'isValid'>,
    read: (key: string) => unknown,
  ): { value: T } | undefined {
    let raw: unknown;
    try {
      raw = read(request.key);
    } catch {
      return undefined; // the regular path reports store failures
    }
    if (!isEntry(raw)) return undefined;
    const entry = raw as CacheEntry<T>;
    if (now() >= entry.freshUntil) return undefined;
    // An in-process store hands back the very object it was given: check it once, not per hit
    // (a list of a few hundred group names is a thousand checks on every guarded request).
    if (request.isValid !== undefined && !checkedValues.has(raw)) {
      if (!request.isValid(entry.value)) return undefined;
      checkedValues.add(raw);
    }
    return { value: entry.value };
  }

  /** A fresh hit of a synchronous store, unless a load of the key is in flight. */
  function peek<T>(request: Pick<LoadRequest<T>, 'key' | 'isValid'>): { value: T } | undefined {
    if (getSync === undefined || inFlight.has(request.key)) return undefined;
    return freshHit(request, getSync);
  }

  return {
    get<T>(request: LoadRequest<T>): Promise<T> {
      const pending = inFlight.get(request.key);
      // Same key, same request shape: the library builds each key from one kind of request.
      if (pending !== undefined) return pending as Promise<T>;
      const hit = peek(request);
      if (hit !== undefined) return Promise.resolve(hit.value);
      const promise = resolve(request).finally(() => {
        inFlight.delete(request.key);
      });
      inFlight.set(request.key, promise);
      return promise;
    },

    peek<T>(key: string, isValid?: (value: unknown) => value is T) {
      return peek<T>(isValid === undefined ? { key } : { key, isValid });
    },

    async set(key, value, freshMs, staleMs) {
      const freshUntil = now() + Math.max(0, freshMs);
      await write(key, { value, freshUntil, staleUntil: freshUntil + Math.max(0, staleMs) });
    },

    async delete(key) {
      try {
        await withStoreTimeout('delete', () => store.delete(key));
      } catch (error) {
        storeFailed('delete', error);
      }
    },
  };
}
