import { cacheKey } from '../cache/keys.js';
import type { CacheStore } from '../cache/types.js';
import { describeError, type Logger } from '../logger.js';
import type { SessionAuth } from './session-data.js';

/**
 * Back-channel logout across instances: the instance that receives Keycloak's logout token writes
 * a marker in the shared cache; every instance checks the markers when a session is used.
 * A `sid` marker ends the sessions of that Keycloak session; a `sub` marker ends every session of
 * that user that started before the logout.
 */
export interface LogoutMarkers {
  mark(target: { sid?: string | undefined; sub?: string | undefined }): Promise<void>;
  /** True when the session was logged out at the IdP. A failing cache counts as "not logged out". */
  isLoggedOut(auth: SessionAuth): Promise<boolean>;
}

/** Markers outlive any session: a session is at most this old when it is checked. */
const MARKER_TTL_MS = 30 * 24 * 3600_000;

export function createLogoutMarkers(store: CacheStore, logger: Logger): LogoutMarkers {
  const sidKey = (sid: string) => cacheKey('logout-sid', sid);
  const subKey = (sub: string) => cacheKey('logout-sub', sub);

  return {
    async mark({ sid, sub }) {
      const at = Date.now();
      const writes: Promise<unknown>[] = [];
      if (sid) writes.push(store.set(sidKey(sid), at, MARKER_TTL_MS));
      if (sub) writes.push(store.set(subKey(sub), at, MARKER_TTL_MS));
      // The caller answers 400 when this fails: Keycloak then knows the logout did not happen.
      await Promise.all(writes);
    },

    async isLoggedOut(auth) {
      try {
        const [bySid, bySub] = await Promise.all([
          auth.sid ? store.get(sidKey(auth.sid)) : undefined,
          store.get(subKey(auth.sub)),
        ]);
        if (typeof bySid === 'number') return true;
        return typeof bySub === 'number' && bySub >= auth.loggedInAt;
      } catch (error) {
        logger.warn(`could not check back-channel logout markers: ${describeError(error)}`);
        return false;
      }
    },
  };
}
