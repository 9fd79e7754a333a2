import express, { type RequestHandler, type Response } from 'express';
import * as jose from 'jose';
import { invalidRequest } from '../errors.js';
import { eventPath } from '../events.js';
import type { Logger } from '../logger.js';
import { sendJsonError } from '../respond.js';
import { issuerKeys } from './issuer-registry.js';
import { LogoutNotRecordedError, type LogoutMarkers } from './logout-markers.js';
import type { AuthRuntime } from './runtime.js';
import { StoreTimeoutError } from './store-entries.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Logout tokens older than this are refused (they are meant to be delivered at once). */
const MAX_TOKEN_AGE_SEC = 300;
/** Largest accepted request body (a logout token is about 1 KB). */
const BODY_LIMIT = '32kb';

/** JOSE `typ` values accepted (RFC 7515 4.1.9: case-insensitive, `application/` optional). */
const ACCEPTED_TYP = new Set(['logout+jwt', 'jwt']);

class LogoutTokenError extends Error {}
/** A logout token accepted before (same `iss` and `jti`). */
class LogoutTokenReplayError extends LogoutTokenError {}
const REPLAYED = 'the logout_token was used before (replayed jti)';

/** What a verified logout token asks for. */
interface VerifiedLogout {
  iss: string;
  jti: string;
  sid: string | undefined;
  sub: string | undefined;
  /** When the logout happened (the token's `iat`, epoch ms, never later than now). */
  at: number;
}

/** `sid`/`sub` when present must be non-empty strings (a malformed claim is not "absent"). */
function optionalId(payload: jose.JWTPayload, name: 'sid' | 'sub'): string | undefined {
  if (!Object.hasOwn(payload, name)) return undefined;
  const value = payload[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new LogoutTokenError(`the logout_token's ${name} claim must be a non-empty string`);
  }
  return value;
}

function checkTyp(header: jose.JWTHeaderParameters): void {
  if (!Object.hasOwn(header, 'typ')) return;
  const typ = header.typ;
  const normalized = typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (normalized === undefined || !ACCEPTED_TYP.has(normalized)) {
    throw new LogoutTokenError('the logout_token has a JOSE header typ other than logout+jwt or JWT');
  }
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `POST /oidc/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): verifies Keycloak's
 * `logout_token` and ends the matching sessions on every instance sharing the session store.
 * Answers 200, or 400 `{ error, error_description }` when the token is invalid, replayed, or the
 * logout could not be recorded.
 */
export function backchannelLogoutRoute(runtime: AuthRuntime, markers: LogoutMarkers): RequestHandler[] {
  const { config } = runtime;
  // The issuer's JWKS, shared with any bearerAuth() of this issuer in the process.
  const jwks = issuerKeys(config.issuer, {
    httpTimeoutMs: config.httpTimeoutMs,
    logger: config.logger,
    cooldownMs: 1000,
    now: runtime.now,
  });

  /** Accepted tokens are remembered this long: the whole window in which `iat` passes the age check. */
  const replayWindowMs = (MAX_TOKEN_AGE_SEC + 2 * config.clockToleranceSec) * 1000;
  /** Ids of tokens being processed here now: a concurrent duplicate is a replay too. */
  const inFlight = new Set<string>();

  async function verify(token: string): Promise<VerifiedLogout> {
    let payload: jose.JWTPayload;
    let protectedHeader: jose.JWTHeaderParameters;
    try {
      // jose checks the signature, iss, aud, iat (number, not in the future, not older than the
      // max age), and exp and nbf when present, each with the clock tolerance.
      ({ payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
        issuer: config.issuer,
        audience: config.clientId,
        algorithms: ALGORITHMS,
        clockTolerance: config.clockToleranceSec,
        maxTokenAge: MAX_TOKEN_AGE_SEC + config.clockToleranceSec,
        requiredClaims: ['iat'],
        currentDate: new Date(runtime.now()),
      }));
    } catch (error) {
      if (error instanceof jose.errors.JOSEError)
        // jose's messages name the failed check (claim, alg, signature), never token contents.
        throw new LogoutTokenError(`invalid logout_token: ${error.message} (${error.code})`);
      throw error;
    }
    checkTyp(protectedHeader);
    const { events } = payload;
    if (!isJsonObject(events)) {
      throw new LogoutTokenError(
        'the logout_token has no events claim (a JSON object with the back-channel logout event)',
      );
    }
    if (!Object.hasOwn(events, BACKCHANNEL_EVENT) || !isJsonObject(events[BACKCHANNEL_EVENT])) {
      throw new LogoutTokenError(`the logout_token has no back-channel logout event (${BACKCHANNEL_EVENT})`);
    }
    if (Object.hasOwn(payload, 'nonce'))
      throw new LogoutTokenError('a logout_token must not contain a nonce');
    const sid = optionalId(payload, 'sid');
    const sub = optionalId(payload, 'sub');
    if (sid === undefined && sub === undefined) {
      throw new LogoutTokenError('the logout_token names neither a sid nor a sub');
    }
    // Back-Channel Logout 1.0, 2.4: jti is REQUIRED (it is what makes a replay recognisable).
    const { jti } = payload;
    if (typeof jti !== 'string' || jti.length === 0) {
      throw new LogoutTokenError('the logout_token has no jti claim (a non-empty string)');
    }
    // jose made sure iat is a number at most clockTolerance in the future. The logout happened
    // when it was issued, not when it arrived; an IdP clock ahead of ours cannot date it later
    // than now (that would end sign-ins made after the logout).
    const { iat } = payload;
    if (typeof iat !== 'number') throw new LogoutTokenError('the logout_token has no iat claim');
    return { iss: config.issuer, jti, sid, sub, at: Math.min(iat * 1000, runtime.now()) };
  }

  /** Records a verified logout once per token: refuses a replay, remembers the token after. */
  async function apply(req: express.Request, logout: VerifiedLogout): Promise<void> {
    const key = `${logout.iss}\n${logout.jti}`;
    // Only verified tokens get here: what a client can make us hold or store is bounded by what
    // the OpenID Provider signs. Marked in flight before the first await, so that a concurrent
    // duplicate on this instance is refused too.
    if (inFlight.has(key)) throw new LogoutTokenReplayError(REPLAYED);
    inFlight.add(key);
    try {
      if (await markers.wasUsed(req, logout.iss, logout.jti)) throw new LogoutTokenReplayError(REPLAYED);
      await markers.record(
        req,
        logout.sid ? { sid: logout.sid, at: logout.at } : { sub: logout.sub, at: logout.at },
      );
      try {
        await markers.remember(req, logout.iss, logout.jti, replayWindowMs);
      } catch (error) {
        // The logout holds (read back above); only a replay of this token would not be refused,
        // and a replay can only end the same sessions again.
        config.logger.warn({ err: error }, "could not remember a logout token's jti");
      }
    } finally {
      inFlight.delete(key);
    }
  }

  const handler: RequestHandler = async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const body: unknown = req.body;
    const token = isJsonObject(body) && Object.hasOwn(body, 'logout_token') ? body.logout_token : undefined;
    if (Array.isArray(token)) {
      refuse(res, 'logout_token must be sent once');
      return;
    }
    if (typeof token !== 'string' || token.length === 0) {
      refuse(res, 'logout_token is required');
      return;
    }
    try {
      const logout = await verify(token);
      await apply(req, logout);
      const scope = logout.sid ? 'session' : 'user';
      config.logger.info({ scope }, 'back-channel logout recorded');
      // No login: the token names a Keycloak session or subject, not a login. Each session it
      // ends fires `session_expired` (reason `backchannelLogout`, with the login) when next used.
      runtime.emit('backchannel_logout', { path: eventPath(req), reason: scope });
      res.status(200).end();
    } catch (error) {
      const reason =
        error instanceof LogoutTokenError
          ? error.message
          : error instanceof LogoutNotRecordedError || error instanceof StoreTimeoutError
            ? 'the logout could not be recorded (session store unavailable)'
            : 'the logout could not be processed';
      if (!(error instanceof LogoutTokenError))
        config.logger.warn({ err: error }, 'back-channel logout failed');
      refuse(res, reason);
    }
  };
  return [parseForm(config.logger), handler];
}

/** 400 `invalid_request` in the library's one JSON error shape (OIDC Back-Channel Logout §2.8). */
function refuse(res: Response, description: string): void {
  sendJsonError(res, invalidRequest(description));
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
      logger.debug({ reason: description }, 'back-channel logout request refused');
      res.set('Cache-Control', 'no-store');
      refuse(res, description);
    });
  };
}
