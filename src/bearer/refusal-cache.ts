import { LRUCache } from 'lru-cache';
import type { CernSsoError } from '../errors.js';

/** How long an introspection refusal (inactive, expired, wrong audience…) is remembered. */
export const REFUSAL_TTL_MS = 30_000;

/**
 * Tokens that introspection refused, by the same SHA-256 key as the verified-token cache, each
 * for {@link REFUSAL_TTL_MS}: a client retrying with a revoked or garbage token is answered from
 * here instead of costing the issuer one introspection request per call. Bounded by entry count
 * (least recently used go first) and kept apart from verified tokens, so a flood of refused
 * tokens cannot evict valid ones.
 */
export interface RefusalCache {
  get(key: string): CernSsoError | undefined;
  set(key: string, refusal: CernSsoError): void;
}

/** A {@link RefusalCache} of at most `max` entries; `max` 0 caches nothing. */
export function createRefusalCache(
  max: number,
  ttlMs: number = REFUSAL_TTL_MS,
  now: () => number = Date.now,
): RefusalCache {
  if (max === 0) return { get: () => undefined, set: () => undefined };
  const lru = new LRUCache<string, { refusal: CernSsoError; until: number }>({ max });
  return {
    get(key) {
      const entry = lru.get(key);
      if (!entry) return undefined;
      if (entry.until <= now()) {
        lru.delete(key);
        return undefined;
      }
      return entry.refusal;
    },
    set(key, refusal) {
      lru.set(key, { refusal, until: now() + ttlMs });
    },
  };
}
