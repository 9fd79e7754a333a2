import * as client from 'openid-client';
import type { OidcDiscovery } from '../auth/discovery.js';
import type { CernClaims } from '../auth/user.js';
import { CernSsoError } from '../errors.js';
import { describeError } from '../logger.js';
import { invalidToken, issuerUnavailable } from './errors.js';
import { checkAudience, checkAuthorizedParty, checkTokenType, type VerifiedToken } from './jwt.js';
import type { ResolvedBearerConfig } from './options.js';

/**
 * Longest opaque token sent to introspection. Opaque access tokens are random handles (tens to
 * a few hundred characters); anything longer is garbage that the issuer need not see.
 */
export const MAX_OPAQUE_TOKEN_LENGTH = 2048;

/** Warnings that introspection is rate-limited are logged at most once per this many ms. */
export const RATE_WARNING_INTERVAL_MS = 60_000;

/**
 * A token bucket for introspection requests of one `bearerAuth()`: `perSecond` tokens a second,
 * up to `2 × perSecond` saved for bursts. Tokens already known (valid, or refused in the last
 * 30 s) never reach it, so it only bounds what new (e.g. distinct garbage) tokens cost the issuer.
 * `take()` answers 0 when a request is allowed, else the ms until one is.
 */
export function createIntrospectionBudget(perSecond: number, now: () => number): { take(): number } {
  const burst = 2 * perSecond;
  let available = burst;
  let at = now();
  return {
    take() {
      const time = now();
      // A clock that goes back refills nothing.
      available = Math.min(burst, available + (Math.max(0, time - at) / 1000) * perSecond);
      at = time;
      if (available >= 1) {
        available -= 1;
        return 0;
      }
      return Math.ceil(((1 - available) / perSecond) * 1000);
    },
  };
}

/** 503 for a token that would exceed the introspection budget (the issuer is not asked). */
export function introspectionBusy(waitMs: number): CernSsoError {
  return new CernSsoError(
    'ERR_UPSTREAM_UNAVAILABLE',
    'Too many new tokens to check at the moment: please retry shortly',
    { status: 503, headers: { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) } },
  );
}

const ACCESS_TOKEN_TYPES = new Set([
  'bearer',
  'access_token',
  'urn:ietf:params:oauth:token-type:access_token',
]);

/** Applies the checks a JWT would get to an active introspection answer. */
function checkActive(
  answer: Record<string, unknown>,
  issuer: string,
  config: ResolvedBearerConfig,
): VerifiedToken {
  const nowMs = config.now();
  const tolerance = config.clockToleranceSec * 1000;
  const { exp, nbf, iss, token_type: tokenType } = answer;
  if (typeof exp === 'number' && exp * 1000 + tolerance <= nowMs) {
    throw invalidToken('the token has expired');
  }
  if (typeof nbf === 'number' && nbf * 1000 - tolerance > nowMs) {
    throw invalidToken('the token is not valid yet (nbf is in the future)');
  }
  if (iss !== undefined && iss !== issuer) throw invalidToken('the token was issued by another issuer');
  if (
    tokenType !== undefined &&
    !(typeof tokenType === 'string' && ACCESS_TOKEN_TYPES.has(tokenType.toLowerCase()))
  ) {
    throw invalidToken('this token is not an access token (introspection token_type)');
  }
  checkTokenType(undefined, answer.typ);
  checkAudience(answer.aud, config.audiences);
  checkAuthorizedParty(answer, config.azp);
  // `iss` is optional in RFC 7662; the user's identity is (iss, sub), so name the issuer asked.
  const claims: CernClaims = { ...answer, iss: issuer };
  delete claims.active;
  return { claims, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}

/** The HTTP status of an openid-client error that carries the answer, if any. */
function statusOf(error: unknown): number | undefined {
  if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError) {
    return error.status;
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof Response ? cause.status : undefined;
}

/**
 * RFC 7662 introspection of `token` with openid-client, as the `bearerAuth()` client
 * (client_secret_basic) at the issuer of `discovery`. `active: false` is a 401; an active answer
 * gets the same checks as a JWT (expiry, issuer, audience, token type, `azp`). The endpoint down,
 * 5xx, 429 or answering garbage is a 503; a 4xx (our client credentials refused) is a
 * configuration error (500, logged); so is an issuer without an introspection endpoint.
 */
export async function introspectToken(
  token: string,
  issuer: string,
  discovery: OidcDiscovery,
  config: ResolvedBearerConfig,
): Promise<VerifiedToken> {
  const what = "The token issuer's introspection endpoint";
  const { logger } = config;
  let answer: client.IntrospectionResponse;
  try {
    answer = await client.tokenIntrospection(await discovery.get(), token, {
      token_type_hint: 'access_token',
    });
  } catch (error) {
    if (error instanceof CernSsoError) {
      // Discovery: an outage is a 503 in bearer terms, a misconfiguration stays a 500.
      if (error.code !== 'ERR_UPSTREAM_UNAVAILABLE') throw error;
      throw issuerUnavailable('The token issuer', error.cause, Number(error.headers['Retry-After']) || 1);
    }
    const status = statusOf(error);
    const code = (error as { code?: unknown } | null)?.code;
    const clientFault =
      (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) ||
      code === 'OAUTH_MISSING_SERVER_METADATA' ||
      code === 'OAUTH_HTTP_REQUEST_FORBIDDEN';
    if (clientFault) {
      const oauthError = error instanceof client.ResponseBodyError ? ` (${error.error})` : '';
      const message =
        status === undefined
          ? `bearerAuth: ${issuer} publishes no usable introspection_endpoint (${describeError(error)})`
          : `bearerAuth: the introspection endpoint of ${issuer} refused the request with HTTP ${String(status)}${oauthError}: check clientId/clientSecret`;
      logger.error(
        status === undefined
          ? { err: error, code: 'ERR_CONFIG', issuer, option: 'issuer' }
          : { err: error, code: 'ERR_CONFIG', issuer, status, option: 'clientSecret' },
        status === undefined
          ? 'bearerAuth: the issuer publishes no usable introspection_endpoint'
          : 'bearerAuth: the introspection endpoint refused the client; check clientId/clientSecret',
      );
      throw new CernSsoError('ERR_CONFIG', message, { status: 500, cause: error });
    }
    logger.warn({ err: error, issuer }, 'bearerAuth: introspection failed');
    throw issuerUnavailable(what, error);
  }
  if (!answer.active) throw invalidToken('the token is not active (expired, revoked or unknown)');
  return checkActive(answer, issuer, config);
}
