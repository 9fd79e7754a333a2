import express, { type RequestHandler } from 'express';
import * as jose from 'jose';
import { describeError } from '../logger.js';
import { LogoutNotRecordedError, type LogoutMarkers } from './logout-markers.js';
import type { AuthRuntime } from './runtime.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Logout tokens older than this are refused (they are meant to be delivered at once). */
const MAX_TOKEN_AGE_SEC = 300;

class LogoutTokenError extends Error {}

/**
 * `POST /oidc/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): verifies Keycloak's
 * `logout_token` and ends the matching sessions on every instance sharing the cache. Answers 200,
 * or 400 `{ error, error_description }` when the token is invalid or the logout failed.
 */
export function backchannelLogoutRoute(runtime: AuthRuntime, markers: LogoutMarkers): RequestHandler[] {
  const { config } = runtime;
  let jwks: ReturnType<typeof jose.createRemoteJWKSet> | undefined;

  async function verify(token: string): Promise<jose.JWTPayload> {
    const oidc = await runtime.discovery.get();
    const jwksUri = oidc.serverMetadata().jwks_uri;
    if (!jwksUri) throw new LogoutTokenError('the OpenID Provider publishes no jwks_uri');
    jwks ??= jose.createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: config.httpTimeoutMs,
      cooldownDuration: 1000,
    });
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, jwks, {
        issuer: config.issuer,
        audience: config.clientId,
        algorithms: ALGORITHMS,
        clockTolerance: config.clockToleranceSec,
        maxTokenAge: MAX_TOKEN_AGE_SEC + config.clockToleranceSec,
        requiredClaims: ['iat'],
      }));
    } catch (error) {
      if (error instanceof jose.errors.JOSEError)
        throw new LogoutTokenError(`invalid logout_token (${error.code})`);
      throw error;
    }
    const events = payload.events as Record<string, unknown> | undefined;
    const event = events?.[BACKCHANNEL_EVENT];
    if (typeof event !== 'object' || event === null) {
      throw new LogoutTokenError('the logout_token has no back-channel logout event');
    }
    if ('nonce' in payload) throw new LogoutTokenError('a logout_token must not contain a nonce');
    if (typeof payload.sid !== 'string' && typeof payload.sub !== 'string') {
      throw new LogoutTokenError('the logout_token names neither a sid nor a sub');
    }
    return payload;
  }

  const handler: RequestHandler = async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const body = req.body as Record<string, unknown> | undefined;
    const token = body?.logout_token;
    if (typeof token !== 'string' || token.length === 0) {
      res.status(400).json({ error: 'invalid_request', error_description: 'logout_token is required' });
      return;
    }
    try {
      const payload = await verify(token);
      const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      await markers.mark(sid ? { sid } : { sub });
      config.logger.info(`back-channel logout for ${sid ? 'a Keycloak session' : 'a user'} recorded`);
      res.status(200).end();
    } catch (error) {
      const reason =
        error instanceof LogoutTokenError
          ? error.message
          : error instanceof LogoutNotRecordedError
            ? 'the logout could not be recorded (session cache unavailable)'
            : 'the logout could not be processed';
      if (!(error instanceof LogoutTokenError))
        config.logger.warn(`back-channel logout failed: ${describeError(error)}`);
      res.status(400).json({ error: 'invalid_request', error_description: reason });
    }
  };
  return [express.urlencoded({ extended: false, limit: '32kb' }), handler];
}
