import * as client from 'openid-client';
import type { OidcDiscovery } from '../auth/discovery.js';
import type { CernClaims } from '../auth/user.js';
import { failureLogText, mapUpstreamError } from '../error-mapper.js';
import { idpMisconfigured, invalidToken, upstreamUnavailable } from '../errors.js';
import {
  asTokenIssuer,
  checkAudience,
  checkAuthorizedParty,
  checkTokenType,
  type VerifiedToken,
} from './jwt.js';
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

/** How the introspection endpoint is named in answers and log lines. */
const INTROSPECTION = "The token issuer's introspection endpoint";

/**
 * RFC 7662 introspection of `token` with openid-client, as the `bearerAuth()` client
 * (client_secret_basic) at the issuer of `discovery`. `active: false` is a 401; an active answer
 * gets the same checks as a JWT (expiry, issuer, audience, token type, `azp`). Failures go
 * through the library's mapper: the endpoint down, 5xx, 429 or timing out is a 503 with the
 * upstream's `Retry-After` (bounded); our client credentials refused (`invalid_client`,
 * Keycloak's 401 `unauthorized_client`), any other refusal of our request, or an issuer without
 * an introspection endpoint is a misconfiguration (500 `ERR_IDP_MISCONFIGURED`, logged once by
 * `sendBearerError` naming the option and the URL). An answer that is not JSON is an outage
 * (a proxy's error page, most likely), as before.
 */
export async function introspectToken(
  token: string,
  issuer: string,
  discovery: OidcDiscovery,
  config: ResolvedBearerConfig,
): Promise<VerifiedToken> {
  let configuration: client.Configuration;
  try {
    configuration = await discovery.get();
  } catch (error) {
    throw asTokenIssuer(error);
  }
  const url = configuration.serverMetadata().introspection_endpoint;
  if (url === undefined) {
    throw idpMisconfigured(
      undefined,
      `issuer: ${issuer} publishes no introspection_endpoint in its discovery document; ` +
        "use JWT access tokens or an issuer that supports introspection (introspect: 'never' refuses opaque tokens)",
    );
  }
  let answer: client.IntrospectionResponse;
  try {
    answer = await client.tokenIntrospection(configuration, token, { token_type_hint: 'access_token' });
  } catch (error) {
    const failure = mapUpstreamError(error, {
      what: INTROSPECTION,
      url,
      action: 'Token introspection',
      // Any refusal of our request is ours to fix, never the API client's fault.
      onRejected: (rejection) =>
        idpMisconfigured(
          error,
          `clientId: ${INTROSPECTION} (${url}) refused the request (HTTP ${String(rejection.status)} ` +
            `${rejection.error}); check clientId and clientSecret of bearerAuth()`,
        ),
      onInvalid: () => upstreamUnavailable(INTROSPECTION, error),
    });
    if (failure.code === 'ERR_UPSTREAM_UNAVAILABLE') {
      config.logger.warn(
        { err: failure.cause, code: failure.code, url },
        `bearerAuth: token introspection failed: ${failureLogText(failure)}`,
      );
    }
    throw failure;
  }
  if (!answer.active) throw invalidToken('the token is not active (expired, revoked or unknown)');
  return checkActive(answer, issuer, config);
}
