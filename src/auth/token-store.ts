import type { SessionData } from 'express-session';
import type { SessionAuth } from './session-data.js';
import type { TokenStore } from '../token-store.js';
import { callStore } from './session-ops.js';
import { storeOf } from './store-entries.js';

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
        // Real time, not the `clock` option: the store compares it with its own `Date.now()`
        // (as it does for the sessions' cookies). The record's own expiresAt is on the clock.
        cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString() },
        cernSsoAuth: record.auth as SessionAuth,
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
