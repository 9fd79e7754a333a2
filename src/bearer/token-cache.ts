import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CernClaims } from '../auth/user.js';

/** A token that passed verification (or introspection). */
export interface VerifiedToken {
  claims: CernClaims;
  /** Epoch ms of `exp`; `undefined` when unknown (such results are not cached). */
  expiresAt: number | undefined;
}

/**
 * Verified tokens by SHA-256 of the token (the token itself is never kept as a key), each until
 * its `exp`, bounded by entry count (least recently used go first).
 */
export interface TokenCache {
  /** The cache key of a token: its SHA-256, base64url. */
  keyOf(token: string): string;
  get(key: string): VerifiedToken | undefined;
  set(key: string, verified: VerifiedToken): void;
}

/** A {@link TokenCache} of at most `max` entries; `max` 0 caches nothing. */
export function createTokenCache(max: number, now: () => number = Date.now): TokenCache {
  const keyOf = (token: string): string => createHash('sha256').update(token).digest('base64url');
  if (max === 0) {
    return { keyOf, get: () => undefined, set: () => undefined };
  }
  const lru = new LRUCache<string, VerifiedToken>({ max, ttlAutopurge: false, allowStale: false });
  return {
    keyOf,
    get(key) {
      const entry = lru.get(key);
      // Belt and braces: the TTL already drops expired entries.
      if (entry?.expiresAt === undefined || entry.expiresAt <= now()) return undefined;
      return entry;
    },
    set(key, verified) {
      if (verified.expiresAt === undefined) return;
      const ttl = verified.expiresAt - now();
      if (ttl <= 0) return;
      lru.set(key, verified, { ttl: Math.ceil(ttl) });
    },
  };
}
