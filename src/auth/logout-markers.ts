import type { Request } from 'express';
import { upstreamUnavailable, type CernSsoError } from '../errors.js';
import type { InvalidationChannel } from '../cache/invalidation-channel.js';
import type { Logger } from '../logger.js';
import type { SessionAuth } from './session-data.js';
import { hashedId, readTime, storeOf, withTimeout, writeTime } from './store-entries.js';

/**
 * Back-channel logout across instances: the instance that receives Keycloak's logout token writes
 * a marker in the app's express-session store; every instance checks the markers of a sign-in when
 * its session is used.
 *
 * Why the session store (not the library's `cache`): it is shared by exactly the instances that
 * share the sessions, nothing else (group data, search results) is written there, so no amount of
 * other data can evict a marker; and a signed-in request depends on it already (the sign-in record
 * is read from it), so failing closed when it is down costs no extra availability.
 *
 * A `sid` marker ends the sessions of that Keycloak session; a `sub` marker ends every session of
 * that user that started at or before the logout (the token's `iat`).
 */
export interface LogoutMarkers {
  /**
   * Writes the markers of a logout at `at` (epoch ms) and reads them back.
   *
   * @throws LogoutNotRecordedError when the store did not keep them (a store that swallows write
   * errors), a {@link StoreTimeoutError}, or the store's own error.
   */
  record(
    req: Request,
    logout: { sid?: string | undefined; sub?: string | undefined; at: number },
  ): Promise<void>;
  /**
   * True when the sign-in was ended by a back-channel logout. Synchronous `false` when this sign-in
   * was checked less than {@link LOGOUT_RECHECK_MS} ago and no logout was recorded by this instance
   * since. Rejects when the store failed or did not answer within the timeout: the caller decides
   * (see `logoutCheckFailure`).
   */
  isLoggedOut(req: Request, auth: SessionAuth): boolean | Promise<boolean>;
  /** Whether a logout token with this `iss` + `jti` was accepted before (within its age window). */
  wasUsed(req: Request, iss: string, jti: string): Promise<boolean>;
  /** Remembers an accepted logout token's `iss` + `jti` for `ttlMs`. */
  remember(req: Request, iss: string, jti: string, ttlMs: number): Promise<void>;
}

/** The store did not keep a logout marker: the logout did not happen on the other instances. */
export class LogoutNotRecordedError extends Error {
  override readonly name = 'LogoutNotRecordedError';
}

/**
 * How long a "not logged out" answer is reused for the same sign-in on this instance: a logout
 * received by another instance is seen here within this bound; one received by this instance at
 * once (recording it invalidates every reused answer). Saves two store reads per request of a
 * busy session (bench/RESULTS.md, require-group).
 */
export const LOGOUT_RECHECK_MS = 1000;

/**
 * With an invalidation channel (`redisCache({ localCache })` as the cache), how long a "not
 * logged out" answer is reused while the channel is trusted: every instance then hears of every
 * logout within the pub/sub delivery time (the recording instance publishes it after writing the
 * markers, and the back-channel request fails when it could not), and a channel that stops
 * delivering is noticed within about 1 s (its probes), which drops every reused answer.
 */
export const LOGOUT_TRUSTED_RECHECK_MS = 30_000;

/** Markers outlive any session: a session is at most this old when it is checked. */
export const LOGOUT_MARKER_TTL_MS = 30 * 24 * 3600_000;

/** Entry ids: session ids are base64url without dots, record ids start `cern-sso.auth.`. */
const SID_PREFIX = 'cern-sso.logout.sid.';
const SUB_PREFIX = 'cern-sso.logout.sub.';
const JTI_PREFIX = 'cern-sso.logout.jti.';

interface MarkerIds {
  sid: string | undefined;
  sub: string;
}

/** What the logout markers use of an invalidation channel shared by the instances. */
export type LogoutChannel = Pick<
  InvalidationChannel,
  'trusted' | 'publishLogout' | 'onLogout' | 'onTrustLost'
>;

/**
 * Markers in the session store of each request. `now` is the clock of their times and lifetimes
 * (the `clock` option); the default reads `Date.now()` at each call.
 *
 * With `channel` (the cache's invalidation channel, which must be shared by exactly the instances
 * sharing the session store): `record()` also publishes the logout, and a logout heard from
 * another instance, or the channel losing trust, drops every reused answer at once. A "not logged
 * out" answer obtained while the channel was trusted is then reused for up to
 * {@link LOGOUT_TRUSTED_RECHECK_MS} (if it stays trusted); otherwise for {@link LOGOUT_RECHECK_MS}.
 * Call `close()` to stop listening.
 */
export function createLogoutMarkers(
  timeoutMs: number,
  now: () => number = () => Date.now(),
  channel?: LogoutChannel,
): LogoutMarkers & { close(): void } {
  // The ids of a sign-in never change: hashed once per (held, frozen) record, not per request.
  const idsOf = new WeakMap<SessionAuth, MarkerIds>();
  const ids = (auth: SessionAuth): MarkerIds => {
    let found = idsOf.get(auth);
    if (!found) {
      found = {
        sid: auth.sid ? hashedId(SID_PREFIX, auth.sid) : undefined,
        sub: hashedId(SUB_PREFIX, auth.sub),
      };
      idsOf.set(auth, found);
    }
    return found;
  };
  const jtiId = (iss: string, jti: string) => hashedId(JTI_PREFIX, `${iss}\n${jti}`);
  // Negative answers by sign-in (held records are shared, frozen objects: the WeakMap grows with
  // them only), valid while no logout was recorded here since (`generation`).
  const notLoggedOutAt = new WeakMap<SessionAuth, { at: number; generation: number; heard: boolean }>();
  let generation = 0;
  const bump = (): void => {
    generation++;
  };
  const unlisten = channel ? [channel.onLogout(bump), channel.onTrustLost(bump)] : [];

  /** Writes `at` under `id` unless a later time is there already; then reads it back. */
  async function markOne(req: Request, id: string, at: number): Promise<void> {
    const store = storeOf(req);
    const before = await withTimeout(readTime(store, id, now), timeoutMs, 'back-channel logout');
    // A later logout recorded already (e.g. a delayed delivery of an older token) covers this one.
    if (before !== undefined && before >= at) return;
    await withTimeout(writeTime(store, id, at, LOGOUT_MARKER_TTL_MS, now), timeoutMs, 'back-channel logout');
    // Some stores never reject a write: read the marker back. A concurrent later logout is as good.
    // The caller answers 400 when this fails: Keycloak then knows the logout did not happen.
    const stored = await withTimeout(readTime(store, id, now), timeoutMs, 'back-channel logout');
    if (stored === undefined || stored < at) {
      throw new LogoutNotRecordedError(
        'the back-channel logout marker could not be written to the session store (is it reachable?)',
      );
    }
  }

  return {
    async record(req, { sid, sub, at }) {
      generation++;
      const targets = [
        ...(sid ? [hashedId(SID_PREFIX, sid)] : []),
        ...(sub ? [hashedId(SUB_PREFIX, sub)] : []),
      ];
      await Promise.all(targets.map((id) => markOne(req, id, at)));
      // Checks that started while the markers were being written must not be reused either.
      generation++;
      if (channel) {
        // After the markers: an instance hearing it and checking again must find them.
        try {
          await channel.publishLogout();
        } catch (error) {
          // The others would reuse their answers for up to 30 s: Keycloak must not get a 200.
          throw new LogoutNotRecordedError(
            'the back-channel logout was recorded but could not be announced to the other instances',
            { cause: error },
          );
        }
      }
    },

    isLoggedOut(req, auth) {
      const checkedAt = now();
      const reused = notLoggedOutAt.get(auth);
      if (
        reused?.generation === generation &&
        checkedAt - reused.at <
          (reused.heard && channel?.trusted === true ? LOGOUT_TRUSTED_RECHECK_MS : LOGOUT_RECHECK_MS)
      ) {
        return false;
      }
      const startedIn = generation;
      // Every logout published from now on reaches this instance (or trust is lost: `generation`).
      const heard = channel?.trusted === true;
      const { sid, sub } = ids(auth);
      let store;
      try {
        store = storeOf(req);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      // Both reads at once: one store round trip of latency; no sid, no sid read.
      const reads =
        sid === undefined
          ? readTime(store, sub, now).then((bySub) => decide(auth, undefined, bySub))
          : Promise.all([readTime(store, sid, now), readTime(store, sub, now)]).then(([bySid, bySub]) =>
              decide(auth, bySid, bySub),
            );
      return withTimeout(reads, timeoutMs, 'back-channel logout check').then((loggedOut) => {
        if (!loggedOut) notLoggedOutAt.set(auth, { at: checkedAt, generation: startedIn, heard });
        return loggedOut;
      });
    },

    async wasUsed(req, iss, jti) {
      const store = storeOf(req);
      return (
        (await withTimeout(readTime(store, jtiId(iss, jti), now), timeoutMs, 'logout token replay check')) !==
        undefined
      );
    },

    async remember(req, iss, jti, ttlMs) {
      const store = storeOf(req);
      await withTimeout(
        writeTime(store, jtiId(iss, jti), now(), ttlMs, now),
        timeoutMs,
        'logout token replay record',
      );
    },

    close() {
      for (const stop of unlisten) stop();
    },
  };
}

/** A sid marker ends that Keycloak session whenever it began; a sub marker ends earlier sign-ins. */
const decide = (auth: SessionAuth, bySid: number | undefined, bySub: number | undefined): boolean =>
  bySid !== undefined || (bySub !== undefined && bySub >= auth.loggedInAt);

/** How long a failing store is quiet in the log after a warning (the failure repeats per request). */
const WARN_INTERVAL_MS = 60_000;

/**
 * What a signed-in request does when its logout markers could not be read (store failed or timed
 * out): `'deny'` answers 503 (the error returned), `'allow'` lets it through signed in (undefined
 * returned). Either way a warning is logged, at most once a minute (by `clock`) with the count of
 * the others.
 */
export function logoutCheckFailurePolicy(
  mode: 'deny' | 'allow',
  logger: Logger,
  clock: () => number = () => Date.now(),
): (error: unknown) => CernSsoError | undefined {
  let lastWarnAt = -Infinity;
  let quiet = 0;
  return (error) => {
    const now = clock();
    if (now - lastWarnAt >= WARN_INTERVAL_MS) {
      const outcome =
        mode === 'deny'
          ? 'signed-in requests answer 503'
          : 'signed-in requests pass without the check (logoutCheckFailure: allow)';
      logger.warn(
        { err: error, logoutCheckFailure: mode, outcome, suppressed: quiet },
        'could not check back-channel logout markers',
      );
      lastWarnAt = now;
      quiet = 0;
    } else {
      quiet++;
    }
    return mode === 'deny' ? upstreamUnavailable('Session store', error) : undefined;
  };
}
