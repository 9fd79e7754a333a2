/**
 * Where the library keeps API tokens, group data and search results (logout markers live in the
 * session store, where group data cannot evict them).
 * Keyv-compatible on purpose: a `Keyv` instance is a valid `CacheStore`.
 */
export interface CacheStore {
  /** The stored value, or `undefined` when missing or expired. */
  get(key: string): Promise<unknown>;
  /** Stores `value` (JSON-serialisable) for `ttlMs` milliseconds. */
  set(key: string, value: unknown, ttlMs: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  /**
   * Optional: a short exclusive lock shared by every instance using this store (Redis:
   * `SET key token NX PX ttlMs`). Resolves to a token when acquired, `undefined` when another
   * holder has it. Used for cross-instance single flight (one upstream call for N instances) and
   * for one token refresh per session across instances. Expires by itself after `ttlMs`.
   * Rejects when the store cannot coordinate right now (Redis down): callers must then go ahead
   * on their own, never wait for a holder that may not exist.
   */
  lock?(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases a lock acquired with `lock()`, only if `token` still owns it (atomically). */
  unlock?(key: string, token: string): Promise<void>;
  /**
   * Optional: releases what the store opened itself (the subscriber of `redisCache({ localCache })`).
   * `sso.close()` calls it. The store keeps working afterwards, without what was closed.
   */
  close?(): Promise<void>;
}

/**
 * Internal: a store that can answer a read synchronously (the in-process `memoryCache()`) has
 * this method, so checks made on every request (a warm `requireGroup`) skip the promise machinery.
 */
export const kGetSync = Symbol('express-cern-sso.getSync');

export interface SyncReadable {
  [kGetSync]?: (key: string) => unknown;
}

export function isCacheStore(value: unknown): value is CacheStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store.get === 'function' && typeof store.set === 'function' && typeof store.delete === 'function'
  );
}
