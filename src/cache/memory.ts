import { LRUCache } from 'lru-cache';
import { kGetSync, type CacheStore, type SyncReadable } from './types.js';

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. Default 10 000. */
  max?: number;
}

/**
 * The default `CacheStore`: in-process, bounded by entry count (lru-cache), per-entry TTL.
 * Suits a single instance; use `redisCache()` when several instances must share state.
 */
export function memoryCache(options: MemoryCacheOptions = {}): CacheStore {
  const max = options.max ?? 10_000;
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError('memoryCache: max must be a positive integer');
  }
  const lru = new LRUCache<string, { value: unknown }>({ max, ttlAutopurge: false, allowStale: false });
  const getSync = (key: string): unknown => lru.get(key)?.value;
  const store: CacheStore & SyncReadable = {
    get(key) {
      return Promise.resolve(getSync(key));
    },
    [kGetSync]: getSync,
    set(key, value, ttlMs) {
      // lru-cache treats ttl 0 as "forever"; clamp so a computed 0 still expires.
      lru.set(key, { value }, { ttl: Math.max(1, Math.ceil(ttlMs)) });
      return Promise.resolve();
    },
    delete(key) {
      lru.delete(key);
      return Promise.resolve();
    },
  };
  return store;
}
