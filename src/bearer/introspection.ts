import type { CernClaims } from '../auth/user.js';
import { CernSsoError } from '../errors.js';
import { describeError, type Logger } from '../logger.js';
import { checkAudience, checkAuthorizedParty, checkTokenType } from './claim-checks.js';
import { invalidToken, issuerUnavailable } from './errors.js';
import { fetchJson, jsonObject, UnexpectedAnswerError } from './http.js';
import type { TrustedIssuer } from './issuers.js';
import type { ResolvedBearerConfig } from './options.js';
import type { VerifiedToken } from './token-cache.js';

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
 */
export interface IntrospectionBudget {
  /** Takes one request's worth: 0 when allowed, else the ms until one is available. */
  take(): number;
}

export function createIntrospectionBudget(perSecond: number, now: () => number): IntrospectionBudget {
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

/** Client credentials for the introspection endpoint. */
export interface IntrospectionClient {
  clientId: string;
  clientSecret: string;
}

/** `client_secret_basic` (RFC 6749 §2.3.1: both parts form-encoded before base64). */
function basicAuth(client: IntrospectionClient): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
}

function configError(message: string, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_CONFIG', message, { status: 500, cause });
}

const ACCESS_TOKEN_TYPES = new Set([
  'bearer',
  'access_token',
  'urn:ietf:params:oauth:token-type:access_token',
]);

/** Applies the checks a JWT would get to an active introspection answer. */
function checkActive(
  answer: Record<string, unknown>,
  trusted: TrustedIssuer,
  config: ResolvedBearerConfig,
  nowMs: number,
): VerifiedToken {
  const tolerance = config.clockToleranceSec * 1000;
  const { exp, nbf, iss, token_type: tokenType } = answer;
  if (typeof exp === 'number' && exp * 1000 + tolerance <= nowMs) {
    throw invalidToken('the token has expired');
  }
  if (typeof nbf === 'number' && nbf * 1000 - tolerance > nowMs) {
    throw invalidToken('the token is not valid yet (nbf is in the future)');
  }
  if (iss !== undefined && iss !== trusted.issuer)
    throw invalidToken('the token was issued by another issuer');
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
  const claims: CernClaims = { ...answer, iss: trusted.issuer };
  delete claims.active;
  return { claims, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}

/**
 * RFC 7662 introspection of `token` at `trusted`'s `introspection_endpoint`, authenticated with
 * client_secret_basic. `active: false` is a 401; an active answer gets the same checks as a JWT
 * (expiry, issuer, audience, token type, `azp`). The endpoint down, 5xx or answering garbage is a
 * 503; a refusal of our client credentials is a configuration error (500, logged).
 */
export async function introspectToken(
  token: string,
  trusted: TrustedIssuer,
  client: IntrospectionClient,
  config: ResolvedBearerConfig,
  logger: Logger,
  now: () => number = Date.now,
): Promise<VerifiedToken> {
  const { introspectionEndpoint } = await trusted.metadata();
  if (introspectionEndpoint === undefined) {
    throw configError(`bearerAuth: ${trusted.issuer} publishes no introspection_endpoint`);
  }
  let answer;
  try {
    answer = await fetchJson(introspectionEndpoint, {
      method: 'POST',
      timeoutMs: config.httpTimeoutMs,
      headers: {
        authorization: basicAuth(client),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
  } catch (error) {
    logger.warn(`bearerAuth: introspection at ${trusted.issuer} failed: ${describeError(error)}`);
    throw issuerUnavailable("The token issuer's introspection endpoint", error);
  }
  const body = jsonObject(answer.body);
  if (answer.status >= 400 && answer.status < 500) {
    const oauthError = typeof body?.error === 'string' ? ` (${body.error})` : '';
    const message = `bearerAuth: the introspection endpoint of ${trusted.issuer} refused the request with HTTP ${answer.status}${oauthError}: check clientId/clientSecret`;
    logger.error(message);
    throw configError(message);
  }
  if (answer.status !== 200 || !body || typeof body.active !== 'boolean') {
    const error = new UnexpectedAnswerError(
      introspectionEndpoint,
      answer.status,
      'not an introspection answer',
    );
    logger.warn(`bearerAuth: ${error.message}`);
    throw issuerUnavailable("The token issuer's introspection endpoint", error);
  }
  if (!body.active) throw invalidToken('the token is not active (expired, revoked or unknown)');
  return checkActive(body, trusted, config, now());
}
