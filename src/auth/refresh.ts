import type { Request } from 'express';
import * as client from 'openid-client';
import { CernSsoError, upstreamUnavailable } from '../errors.js';
import { describeError } from '../logger.js';
import { oauthFailure } from './oauth-errors.js';
import type { AuthRuntime } from './runtime.js';
import type { SessionAuth } from './session-data.js';
import { reloadSession, requireSession, saveSession } from './session-ops.js';
import { cacheKey } from '../cache/keys.js';
import { tokensFromResponse } from './tokens.js';
import type { CernClaims } from './user.js';

/** Refresh this long before expiry, so a token never expires on its way to the API. */
const EXPIRY_MARGIN_MS = 30_000;

export function notAuthenticated(): CernSsoError {
  return new CernSsoError('ERR_NOT_AUTHENTICATED', 'You are not signed in.', { status: 401 });
}

function sessionExpired(): CernSsoError {
  return new CernSsoError('ERR_SESSION_EXPIRED', 'Your CERN sign-in has expired. Please sign in again.', {
    status: 401,
  });
}

async function endSignIn(req: Request): Promise<void> {
  delete requireSession(req).cernSso;
  await saveSession(req);
}

/** How long one instance may hold a session's refresh lock, and how long others wait for it. */
const REFRESH_LOCK_MS = 15_000;
const POLL_MS = 100;

const isFresh = (auth: SessionAuth | undefined): boolean =>
  auth !== undefined && auth.tokens.accessTokenExpiresAt - EXPIRY_MARGIN_MS > Date.now();

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Refreshes once across every instance sharing the cache: Keycloak may revoke a refresh token
 * once used, so two instances must never both use it. The lock holder refreshes and saves the
 * session; the others re-read the shared session until the new tokens are there. Without a
 * lock-capable cache (memory) this is the in-process single flight alone.
 */
async function refreshAcrossInstances(
  req: Request,
  runtime: AuthRuntime,
  auth: SessionAuth,
): Promise<SessionAuth | undefined> {
  const { cache, logger } = runtime.config;
  if (!cache.lock) return refresh(req, runtime, auth);
  const lockKey = cacheKey('refresh-lock', req.sessionID);
  const deadline = Date.now() + REFRESH_LOCK_MS;
  while (Date.now() < deadline) {
    let lockToken: string | undefined;
    try {
      lockToken = await cache.lock(lockKey, REFRESH_LOCK_MS);
    } catch (error) {
      // The shared cache is down: coordination is impossible, refresh here (degraded).
      logger.warn(`refresh lock unavailable, refreshing without it: ${describeError(error)}`);
      return refresh(req, runtime, auth);
    }
    if (lockToken !== undefined) {
      try {
        // Another instance may have refreshed just before we got the lock.
        await reloadSession(req);
        const current = requireSession(req).cernSso;
        if (!current) return undefined;
        return isFresh(current) ? current : await refresh(req, runtime, current);
      } finally {
        await cache.unlock?.(lockKey, lockToken).catch(() => undefined);
      }
    }
    await sleep(POLL_MS);
    await reloadSession(req);
    const current = requireSession(req).cernSso;
    if (!current) return undefined;
    if (isFresh(current)) return current;
  }
  // The lock holder neither finished nor released in time: a transient condition, not a logout.
  throw upstreamUnavailable('Token refresh (waiting for another instance)');
}

async function refresh(
  req: Request,
  runtime: AuthRuntime,
  auth: SessionAuth,
): Promise<SessionAuth | undefined> {
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
    throw oauthFailure(error, 'Token refresh', 'ERR_SESSION_EXPIRED');
  }
  const claims = (response.claims() as CernClaims | undefined) ?? auth.claims;
  const updated: SessionAuth = { ...auth, tokens: tokensFromResponse(response, auth.tokens), claims };
  requireSession(req).cernSso = updated;
  await saveSession(req);
  return updated;
}

/**
 * A valid access token for the signed-in session, refreshed with the refresh token when it
 * expired. One refresh per session is in flight at a time; the others wait for its result.
 * A refresh the IdP refuses (`invalid_grant`) ends the sign-in.
 */
export async function getSessionAccessToken(req: Request, runtime: AuthRuntime): Promise<string> {
  const auth = (req as { session?: Request['session'] }).session?.cernSso;
  if (!auth) throw notAuthenticated();
  if (isFresh(auth)) return auth.tokens.accessToken;

  const key = req.sessionID;
  let flight = runtime.refreshes.get(key);
  if (!flight) {
    flight = refreshAcrossInstances(req, runtime, auth).finally(() => runtime.refreshes.delete(key));
    runtime.refreshes.set(key, flight);
  }
  let updated: SessionAuth | undefined;
  try {
    updated = await flight;
  } catch (error) {
    runtime.config.logger.warn(`token refresh failed: ${describeError(error)}`);
    throw error;
  }
  if (!updated) {
    await endSignIn(req);
    throw sessionExpired();
  }
  // Requests that waited carry their own copy of the session: give them the new tokens too,
  // so that their end-of-request save does not write the old ones back.
  requireSession(req).cernSso = updated;
  return updated.tokens.accessToken;
}
