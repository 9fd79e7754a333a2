import { CernSsoError } from '../errors.js';
import { checkTokenType } from './claim-checks.js';
import { invalidToken } from './errors.js';
import {
  createIntrospectionBudget,
  introspectionBusy,
  introspectToken,
  MAX_OPAQUE_TOKEN_LENGTH,
  RATE_WARNING_INTERVAL_MS,
  type IntrospectionClient,
} from './introspection.js';
import type { IssuerRegistry, TrustedIssuer } from './issuers.js';
import type { BearerAlgorithm, ResolvedBearerConfig } from './options.js';
import { createRefusalCache, type RefusalCache } from './refusal-cache.js';
import { createTokenCache, type TokenCache, type VerifiedToken } from './token-cache.js';
import { peekJwt, type UnverifiedJwt } from './token-format.js';
import { verifyJwt } from './verify-jwt.js';

/** Validates bearer tokens for one `bearerAuth()`. */
export interface TokenValidator {
  /** The token's claims if it is valid; rejects with a 401/503 `CernSsoError` otherwise. */
  validate(token: string): Promise<VerifiedToken>;
}

/** Checks done on the unverified token, before any network request. */
function preflight(
  jwt: UnverifiedJwt,
  config: ResolvedBearerConfig,
  issuers: IssuerRegistry,
): { alg: BearerAlgorithm; trusted: NonNullable<ReturnType<IssuerRegistry['find']>> } {
  const alg = jwt.header.alg ?? '';
  if (alg.toLowerCase() === 'none') throw invalidToken('unsigned tokens (alg "none") are refused');
  if (!(config.algorithms as readonly string[]).includes(alg)) {
    throw invalidToken(`the token algorithm is not accepted (allowed: ${config.algorithms.join(', ')})`);
  }
  if (typeof jwt.payload.iss !== 'string') throw invalidToken('the token has no issuer (iss)');
  // The issuer decides where keys are fetched: only ever from the configured list.
  const trusted = issuers.find(jwt.payload.iss);
  if (!trusted) throw invalidToken('the token issuer (iss) is not trusted by this API');
  checkTokenType(jwt.header.typ, jwt.payload.typ);
  // JSON allows any value here; only a string can name a published key.
  const kid: unknown = jwt.header.kid;
  if (kid !== undefined && typeof kid !== 'string')
    throw invalidToken('the token key id (kid) is not a string');
  return { alg: alg as BearerAlgorithm, trusted };
}

/**
 * The validation pipeline: caches, then JWT verification (or RFC 7662 introspection for opaque
 * tokens and with `introspect: 'always'`). Concurrent validations of one token share the work.
 * Valid tokens are cached until `exp`; tokens that introspection refused (401 `invalid_token`)
 * for 30 s, so repeated bad tokens are not amplified onto the issuer; distinct new tokens are
 * introspected at most `introspectionsPerSecond` a second (503 beyond). Outages (503) and
 * configuration errors are never cached.
 */
export function createTokenValidator(
  config: ResolvedBearerConfig,
  issuers: IssuerRegistry,
  now: () => number = Date.now,
  cache: TokenCache = createTokenCache(config.verifiedTokenCacheMax, now),
  refusals: RefusalCache = createRefusalCache(config.verifiedTokenCacheMax, undefined, now),
): TokenValidator {
  const inFlight = new Map<string, Promise<VerifiedToken>>();
  const budget = createIntrospectionBudget(config.introspectionsPerSecond, now);
  let busyRefusals = 0;
  let lastBusyWarningAt = Number.NEGATIVE_INFINITY;

  /** Refuses one introspection over budget; warns once per interval, never naming a token. */
  function busy(waitMs: number): CernSsoError {
    busyRefusals += 1;
    if (now() - lastBusyWarningAt >= RATE_WARNING_INTERVAL_MS) {
      config.logger.warn(
        `bearerAuth: more than ${config.introspectionsPerSecond} new tokens per second to introspect; ` +
          `${busyRefusals} refused with 503 since the last warning, without asking the issuer`,
      );
      lastBusyWarningAt = now();
      busyRefusals = 0;
    }
    return introspectionBusy(waitMs);
  }

  async function introspect(
    token: string,
    key: string,
    trusted: TrustedIssuer,
    client: IntrospectionClient,
  ): Promise<VerifiedToken> {
    const waitMs = budget.take();
    if (waitMs > 0) throw busy(waitMs);
    try {
      return await introspectToken(token, trusted, client, config, config.logger, now);
    } catch (error) {
      if (error instanceof CernSsoError && error.code === 'ERR_INVALID_TOKEN') refusals.set(key, error);
      throw error;
    }
  }

  async function check(token: string, key: string): Promise<VerifiedToken> {
    const jwt = peekJwt(token);
    if (jwt) {
      const { alg, trusted } = preflight(jwt, config, issuers);
      if (config.introspect === 'always' && config.client) {
        return introspect(token, key, trusted, config.client);
      }
      return verifyJwt(token, jwt, alg, trusted, config);
    }
    if (config.introspect === 'never') {
      throw invalidToken('the token is not a JWT (opaque tokens are not accepted by this API)');
    }
    if (!config.client) {
      throw invalidToken('opaque tokens need introspection: configure clientId/clientSecret');
    }
    // Checked before any request: the header parser already allowed only RFC 6750 b64token.
    if (token.length > MAX_OPAQUE_TOKEN_LENGTH) {
      throw invalidToken(`the token is not a JWT and longer than ${MAX_OPAQUE_TOKEN_LENGTH} characters`);
    }
    // An opaque token does not name its issuer: with several, it is introspected at the first.
    return introspect(token, key, issuers.primary, config.client);
  }

  return {
    validate(token) {
      const key = cache.keyOf(token);
      const cached = cache.get(key);
      if (cached) return Promise.resolve(cached);
      const refused = refusals.get(key);
      if (refused) return Promise.reject(refused);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = check(token, key)
          .then((verified) => {
            cache.set(key, verified);
            return verified;
          })
          .finally(() => {
            inFlight.delete(key);
          });
        inFlight.set(key, pending);
      }
      return pending;
    },
  };
}
