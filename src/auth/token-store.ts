import type { Request } from 'express';
import type { SessionData } from 'express-session';
import type { SessionAuth } from './session-data.js';
import { callStore } from './session-ops.js';
import { storeOf } from './store-entries.js';

/**
 * What `cernSso()` stores per sign-in: the tokens (access, refresh, ID token), the ID token's
 * claims, and the Keycloak session id and subject (for back-channel logout). JSON-serialisable.
 * A store keeps it as given and hands it back as given; it holds live tokens, so keep it where
 * the sessions are kept safe.
 */
export interface TokenRecord {
  auth: SessionAuth;
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

/**
 * The shape written to the session store: a session-like object with a `cookie`, so that every
 * store takes it and expires it (MemoryStore by `cookie.expires`, connect-redis as the key's TTL).
 */
interface SessionStoreEntry {
  cookie: { originalMaxAge: number; expires: string };
  cernSsoAuth: SessionAuth;
  /** Epoch ms. */
  cernSsoExpiresAt: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * The default {@link TokenStore}: records are entries of the app's express-session store, next
 * to the sessions, under ids `cern-sso.auth.<random>` (so they also appear in `store.all()` and
 * count in `store.length()`). Why there: the sessions' store is already shared by exactly the
 * instances that share the sessions (connect-redis), expires entries like sessions, and needs no
 * second database.
 */
export function sessionStoreTokens(): TokenStore {
  return {
    async get(id, req) {
      const store = storeOf(req);
      const value = await callStore<unknown>((done) => {
        store.get(id, done);
      });
      if (!isObject(value) || !isObject(value.cernSsoAuth) || typeof value.cernSsoExpiresAt !== 'number') {
        return undefined;
      }
      return { auth: value.cernSsoAuth, expiresAt: value.cernSsoExpiresAt };
    },

    set(id, record, ttlMs, req) {
      const entry: SessionStoreEntry = {
        cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString() },
        cernSsoAuth: record.auth,
        cernSsoExpiresAt: record.expiresAt,
      };
      const store = storeOf(req);
      return callStore((done) => {
        store.set(id, entry as unknown as SessionData, done);
      });
    },

    destroy(id, req) {
      const store = storeOf(req);
      return callStore((done) => {
        store.destroy(id, done);
      });
    },
  };
}
