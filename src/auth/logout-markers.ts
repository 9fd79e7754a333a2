import { cacheKey } from '../cache/keys.js';
import { kGetSync, type CacheStore, type SyncReadable } from '../cache/types.js';
import { describeError, type Logger } from '../logger.js';
import type { SessionAuth } from './session-data.js';

/**
 * Back-channel logout across instances: the instance that receives Keycloak's logout token writes
 * a marker in the shared cache; every instance checks the markers when a session is used.
 * A `sid` marker ends the sessions of that Keycloak session; a `sub` marker ends every session of
 * that user that started before the logout.
 */
export interface LogoutMarkers {
  /**
   * Writes the markers and reads them back.
   *
   * @throws LogoutNotRecordedError when the store did not keep them (a store that swallows
   * write errors, e.g. `redisCache()` during an outage), or the store's own error.
   */
  mark(target: { sid?: string | undefined; sub?: string | undefined }): Promise<void>;
  /**
   * True when the session was logged out at the IdP. A failing cache counts as "not logged out".
   * Synchronous with an in-process store: it runs on every request of a signed-in session.
   */
  isLoggedOut(auth: SessionAuth): boolean | Promise<boolean>;
}

/** The cache did not keep a logout marker: the logout did not happen on the other instances. */
export class LogoutNotRecordedError extends Error {
  override readonly name = 'LogoutNotRecordedError';
}

/** Markers outlive any session: a session is at most this old when it is checked. */
const MARKER_TTL_MS = 30 * 24 * 3600_000;

export function createLogoutMarkers(store: CacheStore & SyncReadable, logger: Logger): LogoutMarkers {
  const sidKey = (sid: string) => cacheKey('logout-sid', sid);
  const subKey = (sub: string) => cacheKey('logout-sub', sub);
  // The keys of a sign-in never change: built once per (held, frozen) record, not per request.
  const keysOf = new WeakMap<SessionAuth, { sid: string | undefined; sub: string }>();
  const keys = (auth: SessionAuth) => {
    let found = keysOf.get(auth);
    if (!found) {
      found = { sid: auth.sid ? sidKey(auth.sid) : undefined, sub: subKey(auth.sub) };
      keysOf.set(auth, found);
    }
    return found;
  };
  const decide = (auth: SessionAuth, bySid: unknown, bySub: unknown): boolean =>
    typeof bySid === 'number' || (typeof bySub === 'number' && bySub >= auth.loggedInAt);
  const failed = (error: unknown): false => {
    logger.warn(`could not check back-channel logout markers: ${describeError(error)}`);
    return false;
  };
  const getSync = store[kGetSync];

  return {
    async mark({ sid, sub }) {
      const at = Date.now();
      const keys = [...(sid ? [sidKey(sid)] : []), ...(sub ? [subKey(sub)] : [])];
      await Promise.all(keys.map((key) => store.set(key, at, MARKER_TTL_MS)));
      // Some stores never reject a write (redisCache() turns an outage into a no-op): read the
      // markers back. A marker at least as recent as ours (a concurrent logout) is as good.
      // The caller answers 400 when this fails: Keycloak then knows the logout did not happen.
      const stored = await Promise.all(keys.map((key) => store.get(key)));
      if (!stored.every((value) => typeof value === 'number' && value >= at)) {
        throw new LogoutNotRecordedError(
          'the back-channel logout marker could not be written to the cache (is it reachable?)',
        );
      }
    },

    isLoggedOut(auth) {
      const { sid, sub } = keys(auth);
      if (getSync) {
        try {
          return decide(auth, sid === undefined ? undefined : getSync(sid), getSync(sub));
        } catch (error) {
          return failed(error);
        }
      }
      return Promise.all([sid === undefined ? undefined : store.get(sid), store.get(sub)]).then(
        ([bySid, bySub]) => decide(auth, bySid, bySub),
        failed,
      );
    },
  };
}
