import type { Request } from 'express';
import * as client from 'openid-client';
import { CernSsoError } from '../errors.js';
import { describeError } from '../logger.js';
import { oauthFailure } from './oauth-errors.js';
import type { AuthRuntime } from './runtime.js';
import type { SessionAuth } from './session-data.js';
import { requireSession, saveSession } from './session-ops.js';
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
  if (auth.tokens.accessTokenExpiresAt - EXPIRY_MARGIN_MS > Date.now()) return auth.tokens.accessToken;

  const key = req.sessionID;
  let flight = runtime.refreshes.get(key);
  if (!flight) {
    flight = refresh(req, runtime, auth).finally(() => runtime.refreshes.delete(key));
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
