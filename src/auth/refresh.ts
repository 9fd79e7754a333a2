import type { Request } from 'express';
import * as client from 'openid-client';
import { CernSsoError, notAuthenticated, sessionExpired, upstreamUnavailable } from '../errors.js';
import { cacheKey } from '../cache/keys.js';
import { LOGIN_SERVICE, MISCONFIGURED, failureLogFields, mapUpstreamError } from '../error-mapper.js';
import { sleep } from '../single-flight.js';
import type { AuthRuntime } from './runtime.js';
import type { SignedIn } from './session-data.js';
import { destroySession, reloadSession, requireSession, saveSession } from './session-ops.js';
import { tokensFromResponse } from './tokens.js';
import { userFromClaims, type CernClaims } from './user.js';
import { eventPath } from '../events.js';

/** Refresh this long before expiry, so a token never expires on its way to the API. */
const EXPIRY_MARGIN_MS = 30_000;

/** Signs the session out: pointer and record gone. */
async function endSignIn(req: Request, runtime: AuthRuntime, ref: string | undefined): Promise<void> {
  delete requireSession(req).cernSso;
  if (ref !== undefined) runtime.records.remove(req, ref);
  await saveSession(req);
}

/** How long one instance may hold a session's refresh lock, and how long others wait for it. */
const REFRESH_LOCK_MS = 15_000;
const POLL_MS = 100;
/**
 * The wait for another instance's refresh, counted in polls rather than read from the clock: a
 * test clock that stands still must not make it wait for ever.
 */
const MAX_POLLS = REFRESH_LOCK_MS / POLL_MS;

/** The access token is valid for a while yet by the runtime's clock. */
const isFresh = (signedIn: SignedIn | undefined, runtime: AuthRuntime): boolean =>
  signedIn !== undefined && signedIn.auth.tokens.accessTokenExpiresAt - EXPIRY_MARGIN_MS > runtime.now();

/**
 * The claims are younger than `claimsTtlMs` by the runtime's clock. A sign-in without a refresh
 * token cannot refresh them: its claims count as fresh (they stay those of the login).
 */
export function claimsAreFresh(signedIn: SignedIn, runtime: AuthRuntime): boolean {
  const { auth } = signedIn;
  if (!auth.tokens.refreshToken) return true;
  return runtime.now() - (auth.claimsAt ?? auth.loggedInAt) < runtime.config.claimsTtlMs;
}

/**
 * Nothing to refresh: the access token and the claims are fresh. Any refresh renews both, so one
 * test serves token and claims refreshes alike (they share one flight per session).
 */
const isUpToDate = (signedIn: SignedIn | undefined, runtime: AuthRuntime): boolean =>
  signedIn !== undefined && isFresh(signedIn, runtime) && claimsAreFresh(signedIn, runtime);

/** The session's pointer moved to `ref`, keeping its other fields (`seenAt`). */
function pointTo(req: Request, ref: string): void {
  const session = requireSession(req);
  const seenAt = session.cernSso?.seenAt;
  session.cernSso = typeof seenAt === 'number' ? { ref, seenAt } : { ref };
}

/** express-session's `reload()` error when the store has no such session any more. */
const SESSION_GONE_MESSAGE = 'failed to load session';

/** The session is no longer in the store (another instance logged it out or destroyed it). */
class SessionGoneError extends Error {
  override readonly name = 'SessionGoneError';
}

/**
 * The sign-in the session in the store points to now (another instance may have refreshed it).
 *
 * @throws SessionGoneError when the session is gone from the store: a sign-out.
 * @throws CernSsoError 503 `ERR_UPSTREAM_UNAVAILABLE` when the session store fails.
 */
async function reloadSignedIn(req: Request, runtime: AuthRuntime): Promise<SignedIn | undefined> {
  try {
    await reloadSession(req);
  } catch (error) {
    if (error instanceof CernSsoError) throw error;
    if (error instanceof Error && error.message === SESSION_GONE_MESSAGE) {
      throw new SessionGoneError('the session was ended elsewhere during a token refresh', { cause: error });
    }
    throw upstreamUnavailable('Session store', error);
  }
  const ref = requireSession(req).cernSso?.ref;
  return ref === undefined ? undefined : runtime.records.load(req, ref);
}

/**
 * Refreshes once across every instance sharing the cache: Keycloak may revoke a refresh token
 * once used, so two instances must never both use it. The lock holder refreshes and saves the
 * session; the others re-read the shared session until it points to the new tokens. Without a
 * lock-capable cache (memory) this is the in-process single flight alone.
 */
async function refreshAcrossInstances(
  req: Request,
  runtime: AuthRuntime,
  signedIn: SignedIn,
): Promise<SignedIn | undefined> {
  const { cache, logger } = runtime.config;
  if (!cache.lock) return refresh(req, runtime, signedIn);
  const lockKey = cacheKey('refresh-lock', req.sessionID);
  for (let poll = 0; poll < MAX_POLLS; poll++) {
    let lockToken: string | undefined;
    try {
      lockToken = await cache.lock(lockKey, REFRESH_LOCK_MS);
    } catch (error) {
      // The shared cache is down: coordination is impossible, refresh here (degraded).
      logger.warn({ err: error }, 'refresh lock unavailable, refreshing without it');
      return refresh(req, runtime, signedIn);
    }
    if (lockToken !== undefined) {
      try {
        // Another instance may have refreshed just before we got the lock.
        const current = await reloadSignedIn(req, runtime);
        if (!current) return undefined;
        return isUpToDate(current, runtime) ? current : await refresh(req, runtime, current);
      } finally {
        await cache.unlock?.(lockKey, lockToken).catch(() => undefined);
      }
    }
    await sleep(POLL_MS);
    const current = await reloadSignedIn(req, runtime);
    if (!current) return undefined;
    if (isUpToDate(current, runtime)) return current;
  }
  // The lock holder neither finished nor released in time: a transient condition, not a logout.
  throw upstreamUnavailable('Token refresh (waiting for another instance)');
}

async function refresh(
  req: Request,
  runtime: AuthRuntime,
  signedIn: SignedIn,
): Promise<SignedIn | undefined> {
  const { auth } = signedIn;
  const refreshToken = auth.tokens.refreshToken;
  if (!refreshToken) return undefined;
  const config = await runtime.discovery.get();
  let response: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    response = await client.refreshTokenGrant(config, refreshToken);
  } catch (error) {
    if (error instanceof client.ResponseBodyError && error.error === 'invalid_grant') {
      runtime.config.logger.info('refresh token rejected (session ended at the IdP); signing the user out');
      return undefined;
    }
    const failure = mapUpstreamError(error, {
      what: LOGIN_SERVICE,
      url: config.serverMetadata().token_endpoint,
      action: 'Token refresh',
      code: 'ERR_SESSION_EXPIRED',
    });
    // Logged here, where it is found, once (the caller logs the other failures).
    if (failure.code === 'ERR_IDP_MISCONFIGURED')
      runtime.config.logger.error(failureLogFields(failure), MISCONFIGURED);
    throw failure;
  }
  const claims = (response.claims() as CernClaims | undefined) ?? auth.claims;
  // OIDC Core 12.2: a refreshed ID token must name the same user.
  if (claims.sub !== auth.sub) {
    runtime.config.logger.warn(
      'a token refresh returned an ID token for another subject; signing the user out',
    );
    return undefined;
  }
  // claimsAt: also when no ID token came back (old claims kept), so that it is not retried at once.
  const updated = await runtime.records.create(req, {
    ...auth,
    tokens: tokensFromResponse(response, runtime.now(), auth.tokens),
    claims,
    claimsAt: runtime.now(),
  });
  pointTo(req, updated.ref);
  await saveSession(req);
  runtime.records.retire(req, signedIn.ref);
  return updated;
}

/** What a refresh reads and updates of `req.sso` (a `SessionContext`). */
export interface RefreshingContext {
  readonly req: Request;
  readonly runtime: AuthRuntime;
  signedIn: SignedIn | undefined;
}

/** What a refresh came to: new tokens, or the sign-in ended (`reason` for the log). */
export type RefreshOutcome =
  { ended: false; signedIn: SignedIn } | { ended: true; reason: string; code: SignInEnd };

/** Why a refresh ended a sign-in, as `session_expired` events say it. */
export type SignInEnd = 'idpSessionEnded' | 'sessionGone';

/**
 * Emits an event about the sign-in `signedIn` of this request (its user, the request's path).
 * `reason` for `refresh_failed`: the library code of the failure.
 */
export function emitSignInEvent(
  context: RefreshingContext,
  signedIn: SignedIn,
  type: 'session_expired' | 'refresh_failed',
  reason: string,
): void {
  const user = userFromClaims(signedIn.auth.claims);
  context.runtime.emit(type, {
    login: user?.login,
    issuer: user?.issuer,
    path: eventPath(context.req),
    reason,
  });
}

/** The library code of a failed refresh, for `refresh_failed`. */
export const failureCode = (error: unknown): string =>
  error instanceof CernSsoError ? error.code : 'ERR_INTERNAL';

/**
 * Refreshes the tokens (and claims) of the context's sign-in. One refresh per session is in
 * flight at a time; the others wait for its result. The IdP refusing it (`invalid_grant`), or
 * the session gone from the store, ends the sign-in: `req.sso` anonymous, pointer and record
 * gone. Otherwise `req.sso` and the session point to the new record.
 *
 * @throws CernSsoError (or another error) when the refresh failed otherwise (outage): nothing
 * changed, the caller decides (and logs, see {@link logRefreshFailure}).
 */
export async function refreshSignIn(context: RefreshingContext, signedIn: SignedIn): Promise<RefreshOutcome> {
  const { req, runtime } = context;
  const key = req.sessionID;
  let flight = runtime.refreshes.get(key);
  if (!flight) {
    flight = refreshAcrossInstances(req, runtime, signedIn).finally(() => runtime.refreshes.delete(key));
    runtime.refreshes.set(key, flight);
  }
  let updated: SignedIn | undefined;
  try {
    updated = await flight;
  } catch (error) {
    if (!(error instanceof SessionGoneError)) throw error;
    context.signedIn = undefined;
    runtime.records.remove(req, signedIn.ref);
    // Saving (here or at the end of the request) would write the ended session back into
    // the store: destroy this request's copy instead. Already gone, so a failure is moot.
    await destroySession(req).catch(() => undefined);
    return { ended: true, reason: error.message, code: 'sessionGone' };
  }
  if (!updated) {
    context.signedIn = undefined;
    await endSignIn(req, runtime, signedIn.ref);
    return { ended: true, reason: 'the identity provider refused the refresh', code: 'idpSessionEnded' };
  }
  // Requests that waited carry their own copy of the session: point it to the new tokens too,
  // so that their end-of-request save does not write the old pointer back.
  pointTo(req, updated.ref);
  context.signedIn = updated;
  return { ended: false, signedIn: updated };
}

/** Logs a failed refresh once, as a warning (a misconfigured IdP was logged where found). */
export function logRefreshFailure(runtime: AuthRuntime, error: unknown, message: string): void {
  const { logger } = runtime.config;
  if (!(error instanceof CernSsoError)) logger.warn({ err: error }, message);
  else if (error.code !== 'ERR_IDP_MISCONFIGURED') logger.warn(failureLogFields(error), message);
}

/**
 * A valid access token for the signed-in session, refreshed with the refresh token when it
 * expired (see {@link refreshSignIn}). A refresh that ends the sign-in throws 401
 * `ERR_SESSION_EXPIRED`; an outage its 503.
 */
export async function getSessionAccessToken(context: RefreshingContext): Promise<string> {
  const signedIn = context.signedIn;
  if (!signedIn) throw notAuthenticated();
  if (isFresh(signedIn, context.runtime)) return signedIn.auth.tokens.accessToken;
  let outcome: RefreshOutcome;
  try {
    outcome = await refreshSignIn(context, signedIn);
  } catch (error) {
    logRefreshFailure(context.runtime, error, 'token refresh failed');
    emitSignInEvent(context, signedIn, 'refresh_failed', failureCode(error));
    throw error;
  }
  if (outcome.ended) {
    emitSignInEvent(context, signedIn, 'session_expired', outcome.code);
    context.runtime.config.logger.info(
      { reason: outcome.reason },
      'sign-in ended during a token refresh; signing the user out',
    );
    throw sessionExpired();
  }
  return outcome.signedIn.auth.tokens.accessToken;
}
