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
import type { CernClaims } from './user.js';

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
        return isFresh(current, runtime) ? current : await refresh(req, runtime, current);
      } finally {
        await cache.unlock?.(lockKey, lockToken).catch(() => undefined);
      }
    }
    await sleep(POLL_MS);
    const current = await reloadSignedIn(req, runtime);
    if (!current) return undefined;
    if (isFresh(current, runtime)) return current;
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
  const updated = await runtime.records.create(req, {
    ...auth,
    tokens: tokensFromResponse(response, runtime.now(), auth.tokens),
    claims,
  });
  requireSession(req).cernSso = { ref: updated.ref };
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

/**
 * A valid access token for the signed-in session, refreshed with the refresh token when it
 * expired. One refresh per session is in flight at a time; the others wait for its result.
 * A refresh the IdP refuses (`invalid_grant`) ends the sign-in.
 */
export async function getSessionAccessToken(context: RefreshingContext): Promise<string> {
  const { req, runtime } = context;
  const signedIn = context.signedIn;
  if (!signedIn) throw notAuthenticated();
  if (isFresh(signedIn, runtime)) return signedIn.auth.tokens.accessToken;

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
    if (error instanceof SessionGoneError) {
      runtime.config.logger.info(
        { reason: error.message },
        'session ended during a token refresh; signing the user out',
      );
      context.signedIn = undefined;
      runtime.records.remove(req, signedIn.ref);
      // Saving (here or at the end of the request) would write the ended session back into
      // the store: destroy this request's copy instead. Already gone, so a failure is moot.
      await destroySession(req).catch(() => undefined);
      throw sessionExpired();
    }
    if (!(error instanceof CernSsoError)) runtime.config.logger.warn({ err: error }, 'token refresh failed');
    else if (error.code !== 'ERR_IDP_MISCONFIGURED') {
      runtime.config.logger.warn(failureLogFields(error), 'token refresh failed');
    }
    throw error;
  }
  if (!updated) {
    context.signedIn = undefined;
    await endSignIn(req, runtime, signedIn.ref);
    throw sessionExpired();
  }
  // Requests that waited carry their own copy of the session: point it to the new tokens too,
  // so that their end-of-request save does not write the old pointer back.
  requireSession(req).cernSso = { ref: updated.ref };
  context.signedIn = updated;
  return updated.auth.tokens.accessToken;
}
