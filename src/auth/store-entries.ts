import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { SessionData, Store } from 'express-session';
import { upstreamUnavailable } from '../errors.js';
import { callStore, requireSession } from './session-ops.js';

/**
 * Small entries of the library in the app's express-session store (back-channel logout markers,
 * used logout token ids), next to the sessions. They are written as session-like objects with a
 * `cookie` so that every store takes them: MemoryStore expires them by `cookie.expires`,
 * connect-redis derives the key's TTL from it.
 */

/** The express-session store of a request (set by express-session on every request it handled). */
export function storeOf(req: Request): Store {
  const store = (req as { sessionStore?: Store }).sessionStore;
  if (!store) {
    requireSession(req); // the clear "mount express-session" error
    throw upstreamUnavailable('Session store');
  }
  return store;
}

/**
 * An entry id safe for any store (no `/`, `:` or spaces from the value, bounded length):
 * `prefix` plus the SHA-256 of `value`, base64url.
 */
export function hashedId(prefix: string, value: string): string {
  return `${prefix}${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

/** The shape written to the store. */
interface StoredEntry {
  cookie: { originalMaxAge: number; expires: string };
  /** Epoch ms after which the entry means nothing (stores that never expire entries). */
  cernSsoExpiresAt: number;
  /** The entry's value: an epoch ms time. */
  cernSsoAt: number;
}

const isStoredEntry = (value: unknown): value is StoredEntry =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as StoredEntry).cernSsoAt === 'number' &&
  typeof (value as StoredEntry).cernSsoExpiresAt === 'number';

/**
 * The time stored under `id`, or undefined when there is none (or it expired by the clock `now`).
 * Rejects when the store fails.
 */
export async function readTime(store: Store, id: string, now: () => number): Promise<number | undefined> {
  const value = await callStore<unknown>((done) => {
    store.get(id, done);
  });
  return isStoredEntry(value) && value.cernSsoExpiresAt > now() ? value.cernSsoAt : undefined;
}

/**
 * Stores the time `at` under `id` for `ttlMs`. Rejects when the store reports a failure.
 * `cernSsoExpiresAt` is on the library's clock `now`; `cookie.expires` on real time, as the
 * store compares it with its own `Date.now()` (as it does for the sessions' cookies).
 */
export function writeTime(
  store: Store,
  id: string,
  at: number,
  ttlMs: number,
  now: () => number,
): Promise<void> {
  const entry: StoredEntry = {
    cookie: { originalMaxAge: ttlMs, expires: new Date(Date.now() + ttlMs).toISOString() },
    cernSsoExpiresAt: now() + ttlMs,
    cernSsoAt: at,
  };
  return callStore((done) => {
    store.set(id, entry as unknown as SessionData, done);
  });
}

/** The session store did not answer within the allowed time. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
}

/**
 * `promise`, or a rejection with {@link StoreTimeoutError} after `timeoutMs` (a store that hangs,
 * e.g. a Redis client queueing commands while disconnected, must not hang the request).
 * A plain `setTimeout`, cleared when the promise settles, so fake timers drive it in tests.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new StoreTimeoutError(`${what}: the session store did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
