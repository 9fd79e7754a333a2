import express, { type RequestHandler } from 'express';
import * as jose from 'jose';
import { describeError, type Logger } from '../logger.js';
import { LogoutNotRecordedError, type LogoutMarkers } from './logout-markers.js';
import type { AuthRuntime } from './runtime.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Logout tokens older than this are refused (they are meant to be delivered at once). */
const MAX_TOKEN_AGE_SEC = 300;
/** Largest accepted request body (a logout token is about 1 KB). */
const BODY_LIMIT = '32kb';

class LogoutTokenError extends Error {}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

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
        // jose's messages name the failed check (claim, alg, signature), never token contents.
        throw new LogoutTokenError(`invalid logout_token: ${error.message} (${error.code})`);
      throw error;
    }
    const { events } = payload;
    if (!isJsonObject(events)) {
      throw new LogoutTokenError(
        'the logout_token has no events claim (a JSON object with the back-channel logout event)',
      );
    }
    if (!isJsonObject(events[BACKCHANNEL_EVENT])) {
      throw new LogoutTokenError(`the logout_token has no back-channel logout event (${BACKCHANNEL_EVENT})`);
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
  return [parseForm(config.logger), handler];
}

/** What body-parser says about a body it refuses, in words for `error_description`. */
function bodyProblem(error: unknown): string {
  const type = (error as { type?: unknown }).type;
  switch (type) {
    case 'entity.too.large':
      return `the request body is larger than ${BODY_LIMIT}`;
    case 'charset.unsupported':
      return 'unsupported charset (send application/x-www-form-urlencoded in UTF-8)';
    case 'encoding.unsupported':
      return 'unsupported content encoding';
    case 'parameters.too.many':
      return 'too many form parameters';
    default:
      return 'the request body could not be read as application/x-www-form-urlencoded';
  }
}

/**
 * The form parser, answering a body it refuses (too large, bad charset or encoding, malformed)
 * with 400 `invalid_request` itself: Express's default handler would answer 413/415 with a stack
 * trace (NODE_ENV unset), and Keycloak only needs to know the logout failed.
 */
function parseForm(logger: Logger): RequestHandler {
  const parser: RequestHandler = express.urlencoded({ extended: false, limit: BODY_LIMIT });
  return (req, res, next) => {
    parser(req, res, (error?: unknown) => {
      if (error === undefined || error === null) {
        next();
        return;
      }
      const description = bodyProblem(error);
      logger.debug(`back-channel logout request refused: ${description}`);
      res.set('Cache-Control', 'no-store');
      res.status(400).json({ error: 'invalid_request', error_description: description });
    });
  };
}
