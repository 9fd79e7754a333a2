import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { CernSsoError, upstreamUnavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SessionAuth, SignedIn } from './session-data.js';
import { requireSession } from './session-ops.js';
import type { TokenRecord, TokenStore } from '../token-store.js';

/** A {@link TokenRecord} as this module writes it (its shape checked when read back). */
type SignInRecord = TokenRecord & { auth: SessionAuth };

/**
 * Where a signed-in session's tokens and claims live: a record of their own in the token store
 * (by default the app's session store, see `token-store.ts`), which the session only points to
 * (`req.session.cernSso.ref`).
 *
 * Why not in the session itself: express-session serialises and hashes the whole session on
 * every request (to find out whether to save it), so ~4 KB of JWTs in it cost every request,
 * including those that never use a token (see bench/RESULTS.md). A record is written at login
 * and at each token refresh and read only when this process does not hold it yet.
 *
 * Records are immutable: a refresh writes a new record and moves the pointer, so this process can
 * keep parsed records (bounded LRU) without ever serving outdated tokens, and every instance that
 * shares the token store (connect-redis by default) shares the records too.
 */
export interface SessionRecords {
  /** The record, or undefined when it is gone (expired, ended). Synchronous when held in process. */
  load(req: Request, ref: string): SignedIn | undefined | Promise<SignedIn | undefined>;
  /** Stores a new record for the session of `req`; resolves to it (with its `ref`). */
  create(req: Request, auth: SessionAuth): Promise<SignedIn>;
  /**
   * After a refresh: the old record is kept for a grace period only, for requests of the same
   * session still in flight with the old pointer (on any instance).
   */
  retire(req: Request, ref: string): void;
  /** At logout: the record is deleted. Failures are logged, never thrown. */
  remove(req: Request, ref: string): void;
  /** Forgets the records held in process (`sso.close()`). */
  clear(): void;
}

/** Prefix of record ids (in the session store, session ids are base64url, without dots). */
const RECORD_ID_PREFIX = 'cern-sso.auth.';
/** A record lives at least this long, and at least as long as the session cookie's maxAge. */
const MIN_LIFETIME_MS = 24 * 3600_000;
/** How long a record replaced by a refresh stays readable. */
const RETIRED_GRACE_MS = 120_000;
/** Parsed records held per process. */
const MAX_HELD_RECORDS = 10_000;

interface HeldRecord {
  signedIn: SignedIn;
  expiresAt: number;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/** What the store gave back is a record of this library (a store may hold anything). */
function isTokenRecord(value: unknown): value is SignInRecord {
  if (!isObject(value) || typeof value.expiresAt !== 'number') return false;
  const auth = value.auth;
  return (
    isObject(auth) &&
    typeof auth.sub === 'string' &&
    isObject(auth.claims) &&
    isObject(auth.tokens) &&
    typeof auth.tokens.accessToken === 'string'
  );
}

/**
 * Records held in process are shared by every request of their session: frozen, so that an app
 * changing `req.sso.claims` in one request cannot change what the next one sees.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Sign-in records in `tokens` (the `tokenStore` option; by default the session store).
 * `storeName` names it in errors and logs; `now` is the clock of their lifetimes.
 */
export function createSessionRecords(
  logger: Logger,
  tokens: TokenStore,
  storeName: string,
  now: () => number,
): SessionRecords {
  const held = new LRUCache<string, HeldRecord>({ max: MAX_HELD_RECORDS });

  const lifetimeMs = (req: Request): number =>
    Math.max(MIN_LIFETIME_MS, requireSession(req).cookie.originalMaxAge ?? 0);

  async function write(req: Request, ref: string, auth: SessionAuth, expiresAt: number): Promise<void> {
    try {
      await tokens.set(ref, { auth, expiresAt }, expiresAt - now(), req);
    } catch (error) {
      throw error instanceof CernSsoError ? error : upstreamUnavailable(storeName, error);
    }
  }

  /** A session in use for more than half its record's lifetime: give the record a new one. */
  function extendIfAging(req: Request, record: HeldRecord): void {
    const lifetime = lifetimeMs(req);
    const at = now();
    if (record.expiresAt - at > lifetime / 2) return;
    record.expiresAt = at + lifetime;
    write(req, record.signedIn.ref, record.signedIn.auth, record.expiresAt).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not extend a sign-in record');
    });
  }

  async function fetch(req: Request, ref: string): Promise<SignedIn | undefined> {
    let value: unknown;
    try {
      value = await tokens.get(ref, req);
    } catch (error) {
      // Tokens unreadable is not "signed out": the caller answers 503 and the user can retry.
      throw error instanceof CernSsoError ? error : upstreamUnavailable(storeName, error);
    }
    if (!isTokenRecord(value) || value.expiresAt <= now()) return undefined;
    const record: HeldRecord = {
      signedIn: { ref, auth: deepFreeze(value.auth) },
      expiresAt: value.expiresAt,
    };
    held.set(ref, record);
    extendIfAging(req, record);
    return record.signedIn;
  }

  return {
    load(req, ref) {
      if (!ref.startsWith(RECORD_ID_PREFIX)) return undefined;
      const record = held.get(ref);
      if (record === undefined) return fetch(req, ref);
      if (record.expiresAt <= now()) {
        held.delete(ref);
        return fetch(req, ref);
      }
      extendIfAging(req, record);
      return record.signedIn;
    },

    async create(req, auth) {
      const ref = `${RECORD_ID_PREFIX}${randomBytes(24).toString('base64url')}`;
      const expiresAt = now() + lifetimeMs(req);
      await write(req, ref, auth, expiresAt);
      const signedIn: SignedIn = { ref, auth: deepFreeze(auth) };
      held.set(ref, { signedIn, expiresAt });
      return signedIn;
    },

    retire(req, ref) {
      const record = held.get(ref);
      held.delete(ref);
      if (!record) return;
      write(req, ref, record.signedIn.auth, now() + RETIRED_GRACE_MS).catch((error: unknown) => {
        logger.warn({ err: error }, 'could not retire a replaced sign-in record');
      });
    },

    remove(req, ref) {
      held.delete(ref);
      if (!ref.startsWith(RECORD_ID_PREFIX)) return;
      // An async wrapper: a store (or the default's missing session store) may throw at once.
      (async () => tokens.destroy(ref, req))().catch((error: unknown) => {
        logger.warn({ err: error }, 'could not delete a sign-in record');
      });
    },

    clear() {
      held.clear();
    },
  };
}
