/**
 * Where the library keeps API tokens, group data, search results and logout markers.
 * Keyv-compatible on purpose: a `Keyv` instance is a valid `CacheStore`.
 */
export interface CacheStore {
  /** The stored value, or `undefined` when missing or expired. */
  get(key: string): Promise<unknown>;
  /** Stores `value` (JSON-serialisable) for `ttlMs` milliseconds. */
  set(key: string, value: unknown, ttlMs: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

export function isCacheStore(value: unknown): value is CacheStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store.get === 'function' && typeof store.set === 'function' && typeof store.delete === 'function'
  );
}
