import {
  claimsAreFresh,
  emitSignInEvent,
  failureCode,
  logRefreshFailure,
  refreshSignIn,
  type RefreshingContext,
} from './refresh.js';
import { requireSession } from './session-ops.js';
import type { SessionAuth, SignedIn } from './session-data.js';

/** The last request is recorded at most this often (and at most every tenth of the idle limit). */
const MAX_SEEN_INTERVAL_MS = 60_000;
/** After a claims refresh failed (outage), the old claims are used this long before a new try. */
const CLAIMS_RETRY_MS = 60_000;

/**
 * Sign-ins whose claims refresh failed, and when to try again. Keyed by the (immutable, held)
 * record: nothing to clean up, and a record replaced or dropped takes its entry with it.
 */
const claimsRetryAt = new WeakMap<SessionAuth, number>();

/**
 * How often the last request is written to the session for `idleTimeoutMs`: at most once per
 * `min(1 min, idleTimeoutMs / 10)`. Writing it at every request would save the session at every
 * request; the price is that `seenAt` may lag by that interval, so a user may be signed out up to
 * that much before `idleTimeoutMs` has passed since their last request, never later.
 */
export const seenInterval = (idleTimeoutMs: number): number =>
  Math.min(MAX_SEEN_INTERVAL_MS, Math.floor(idleTimeoutMs / 10));

/** Why a sign-in is over by the clock, or undefined while it lasts. */
function expiry(
  context: RefreshingContext,
  signedIn: SignedIn,
  seenAt: number | undefined,
): string | undefined {
  const { absoluteTimeoutMs, idleTimeoutMs } = context.runtime.config;
  const now = context.runtime.now();
  const { loggedInAt } = signedIn.auth;
  if (now - loggedInAt >= absoluteTimeoutMs) return 'absoluteTimeoutMs';
  if (idleTimeoutMs !== undefined && now - (seenAt ?? loggedInAt) >= idleTimeoutMs) return 'idleTimeoutMs';
  return undefined;
}

/** Signs the request out (anonymous from here on) and deletes the sign-in record. */
function signOut(context: RefreshingContext, signedIn: SignedIn, reason: string): void {
  const { req, runtime } = context;
  context.signedIn = undefined;
  // The session is saved at the end of the request without its pointer (express-session).
  delete requireSession(req).cernSso;
  runtime.records.remove(req, signedIn.ref);
  runtime.config.logger.info({ reason }, 'sign-in expired; signing the user out');
  // `absoluteTimeoutMs` → `absoluteTimeout`: the event says what happened, not the option.
  emitSignInEvent(context, signedIn, 'session_expired', reason.replace(/Ms$/, ''));
}

/** Claims past `claimsTtlMs`: refreshed, or kept (outage), or the sign-in ended (IdP said so). */
async function refreshClaims(context: RefreshingContext, signedIn: SignedIn): Promise<void> {
  const { runtime } = context;
  try {
    const outcome = await refreshSignIn(context, signedIn);
    if (outcome.ended) {
      emitSignInEvent(context, signedIn, 'session_expired', outcome.code);
      runtime.config.logger.info(
        { reason: outcome.reason },
        'sign-in ended at the identity provider (claims refresh); signing the user out',
      );
    }
  } catch (error) {
    // Stale if error: a page that needs no token works on with the claims it had.
    claimsRetryAt.set(signedIn.auth, runtime.now() + CLAIMS_RETRY_MS);
    logRefreshFailure(runtime, error, 'claims refresh failed; keeping the claims obtained earlier');
    emitSignInEvent(context, signedIn, 'refresh_failed', failureCode(error));
  }
}

/** Records this request as the session's last one, when the recorded one is old enough. */
function recordSeen(context: RefreshingContext, signedIn: SignedIn): void {
  const { idleTimeoutMs } = context.runtime.config;
  if (idleTimeoutMs === undefined) return;
  const pointer = requireSession(context.req).cernSso;
  if (!pointer) return;
  const now = context.runtime.now();
  const seenAt = pointer.seenAt ?? signedIn.auth.loggedInAt;
  // Modifying the session makes express-session save it at the end of the request.
  if (now - seenAt >= seenInterval(idleTimeoutMs)) pointer.seenAt = now;
}

/**
 * Applies `absoluteTimeoutMs`, `idleTimeoutMs` and `claimsTtlMs` to the sign-in just loaded for
 * `context` (`req.sso`): an expired one is signed out (the request goes on anonymous), stale
 * claims are refreshed. Synchronous (undefined) unless the claims are refreshed. Never rejects.
 */
export function applySessionLifetime(context: RefreshingContext): Promise<void> | undefined {
  const signedIn = context.signedIn;
  if (!signedIn) return undefined;
  const pointer = requireSession(context.req).cernSso;
  const expired = expiry(context, signedIn, typeof pointer?.seenAt === 'number' ? pointer.seenAt : undefined);
  if (expired !== undefined) {
    signOut(context, signedIn, expired);
    return undefined;
  }
  const { runtime } = context;
  const retryAt = claimsRetryAt.get(signedIn.auth);
  if (claimsAreFresh(signedIn, runtime) || (retryAt !== undefined && runtime.now() < retryAt)) {
    recordSeen(context, signedIn);
    return undefined;
  }
  return refreshClaims(context, signedIn).then(() => {
    // A refresh may have replaced the session object (reload) or ended the sign-in.
    if (context.signedIn) recordSeen(context, context.signedIn);
  });
}
