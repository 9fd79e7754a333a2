import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { parseOptions } from '../parse-options.js';
import { kGetSync, type CacheStore, type SyncReadable } from './types.js';

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. Default 10 000. */
  max?: number;
}

const optionsSchema = z
  .object({
    max: z.number().int('must be a positive integer').positive('must be a positive integer').optional(),
  })
  .strict();

/**
 * The default `CacheStore`: in-process, bounded by entry count (lru-cache), per-entry TTL.
 * Suits a single instance; use `redisCache()` when several instances must share state.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option.
 */
export function memoryCache(options: MemoryCacheOptions = {}): CacheStore {
  const max = parseOptions(optionsSchema, options, 'memoryCache').max ?? 10_000;
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
