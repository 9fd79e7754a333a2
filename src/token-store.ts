import type { Request } from 'express';

// The contract of the `tokenStore` option, on its own so that the options (src/config.ts) can
// name it without importing src/auth, which imports the options. The default implementation is
// src/auth/token-store.ts.

/**
 * What `cernSso()` stores per sign-in: the tokens (access, refresh, ID token), the ID token's
 * claims, and the Keycloak session id and subject (for back-channel logout). JSON-serialisable.
 * A store keeps it as given and hands it back as given; it holds live tokens, so keep it where
 * the sessions are kept safe.
 */
export interface TokenRecord {
  /** The sign-in: tokens, claims, Keycloak session id. Opaque to a store: keep it as given. */
  auth: object;
  /** Epoch ms after which the library ignores the record, whatever the store does. */
  expiresAt: number;
}

/**
 * Where `cernSso()` keeps sign-in records (option `tokenStore`). The session itself holds only
 * the record's id (`req.session.cernSso.ref`), so express-session does not serialise and hash
 * ~4 KB of tokens on every request. Records are immutable: a token refresh writes a new one and
 * moves the session's pointer; each process keeps a bounded number of them parsed in memory.
 *
 * Default: {@link sessionStoreTokens}, entries of the app's express-session store. Any store
 * shared by the instances that share the sessions works (e.g. an own Redis namespace); a
 * process-local one only suits a single instance.
 *
 * Every method may reject when the store fails: a signed-in request then answers 503 (never
 * "signed out"), a login or refresh 503, and a failed `destroy` is logged.
 */
export interface TokenStore {
  /**
   * The value last given to `set` under `id`, or `undefined` when there is none (or it expired).
   * The library checks its shape: anything else counts as missing.
   * `req` is the request being handled (the default store uses its `req.sessionStore`).
   */
  get(id: string, req: Request): Promise<unknown>;
  /** Stores `record` under `id` for `ttlMs` milliseconds (replacing any earlier value). */
  set(id: string, record: TokenRecord, ttlMs: number, req: Request): Promise<void>;
  /** Deletes the record under `id` (logout); no error when there is none. */
  destroy(id: string, req: Request): Promise<void>;
}

export function isTokenStore(value: unknown): value is TokenStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store.get === 'function' && typeof store.set === 'function' && typeof store.destroy === 'function'
  );
}
