import { hash } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import type { OidcDiscovery } from '../auth/discovery.js';
import { issuerDiscovery, issuerKeys } from '../auth/issuer-registry.js';
import { CernSsoError, introspectionBusy, invalidToken } from '../errors.js';
import {
  createIntrospectionBudget,
  introspectToken,
  MAX_OPAQUE_TOKEN_LENGTH,
  RATE_WARNING_INTERVAL_MS,
} from './introspection.js';
import { peekJwt, preflight, verifyJwt, type VerifiedToken } from './jwt.js';
import type { ResolvedBearerConfig } from './options.js';

/** How long an introspection refusal (inactive, expired, wrong audience…) is remembered. */
export const REFUSAL_TTL_MS = 30_000;

/** Validates bearer tokens for one `bearerAuth()`. */
export interface TokenValidator {
  /**
   * The cached result of a token verified before and not expired yet, synchronously (the hot
   * path of an API: no promise, no hop through the microtask queue); `undefined` otherwise, and
   * always without the verified-token cache. With `connection` (the request's socket), the last
   * token found on that connection is remembered with it and compared exactly, so the next
   * requests of a keep-alive client skip even the hash.
   */
  cached(token: string, connection?: object): VerifiedToken | undefined;
  /** The token's claims if it is valid; rejects with a 401/503 `CernSsoError` otherwise. */
  validate(token: string): Promise<VerifiedToken>;
}

/** The cache key of a token: its SHA-256 (the cache never keeps a token). One-shot: no Hash object. */
const tokenKey = (token: string): string => hash('sha256', token, 'base64url');

/** The last token verified on a connection (see `TokenValidator.cached`). */
interface ConnectionToken {
  token: string;
  verified: VerifiedToken;
  expiresAt: number;
}

/** One trusted issuer: its shared keys, and its discovery for this API's introspection client. */
interface TrustedIssuer {
  issuer: string;
  keys: JWTVerifyGetKey;
  introspection: OidcDiscovery | undefined;
}

/** The trusted issuers by exact `iss` (a `Map`: a token's `iss` never resolves a prototype name). */
function trustedIssuers(config: ResolvedBearerConfig): Map<string, TrustedIssuer> {
  const settings = { httpTimeoutMs: config.httpTimeoutMs, logger: config.logger, now: config.now };
  const { client } = config;
  return new Map(
    config.issuers.map((issuer) => [
      issuer,
      {
        issuer,
        keys: issuerKeys(issuer, { ...settings, cooldownMs: config.jwksCooldownMs }),
        introspection: client
          ? issuerDiscovery({
              ...settings,
              issuer,
              ...client,
              tokenEndpointAuthMethod: 'client_secret_basic',
              clockToleranceSec: config.clockToleranceSec,
            })
          : undefined,
      },
    ]),
  );
}

/**
 * A cache by token hash with lru-cache's own TTL, on the validator's clock; `max` 0 caches nothing.
 * Bounded by entry count (least recently used go first).
 */
function tokenCache<V extends object>(max: number, now: () => number): LRUCache<string, V> | undefined {
  if (max === 0) return undefined;
  return new LRUCache<string, V>({ max, ttlAutopurge: false, ttlResolution: 0, perf: { now } });
}

/**
 * The validation pipeline: caches, then JWT verification (or RFC 7662 introspection for opaque
 * tokens and with `introspect: 'always'`). Concurrent validations of one token share the work.
 * Tokens are cached by SHA-256 (never the token itself): valid ones until `exp`, those that
 * introspection refused (401 `invalid_token`) for 30 s in a cache of their own (a flood of
 * refused tokens cannot evict valid ones), so repeated bad tokens are not amplified onto the
 * issuer; distinct new tokens are introspected at most `introspectionsPerSecond` a second (503
 * beyond). Outages (503) and configuration errors are never cached.
 */
export function createTokenValidator(config: ResolvedBearerConfig): TokenValidator {
  const { now, logger } = config;
  const issuers = trustedIssuers(config);
  const [primary] = issuers.values();
  if (!primary) throw new Error('bearerAuth: no trusted issuer');
  const verified = tokenCache<VerifiedToken>(config.verifiedTokenCacheMax, now);
  const refusals = tokenCache<CernSsoError>(config.verifiedTokenCacheMax, now);
  const inFlight = new Map<string, Promise<VerifiedToken>>();
  // One entry per open connection, set only for a token already verified: it goes with the
  // socket (a WeakMap), so no client grows it before presenting a valid token.
  const lastOnConnection = new WeakMap<object, ConnectionToken>();
  const budget = createIntrospectionBudget(config.introspectionsPerSecond, now);
  let busyRefusals = 0;
  let lastBusyWarningAt = Number.NEGATIVE_INFINITY;

  /** Refuses one introspection over budget; warns once per interval, never naming a token. */
  function busy(waitMs: number): CernSsoError {
    busyRefusals += 1;
    if (now() - lastBusyWarningAt >= RATE_WARNING_INTERVAL_MS) {
      logger.warn(
        { introspectionsPerSecond: config.introspectionsPerSecond, refused: busyRefusals },
        'bearerAuth: too many new tokens to introspect; refused with 503 without asking the issuer',
      );
      lastBusyWarningAt = now();
      busyRefusals = 0;
    }
    return introspectionBusy(waitMs);
  }

  async function introspect(token: string, key: string, trusted: TrustedIssuer): Promise<VerifiedToken> {
    if (!trusted.introspection) {
      throw invalidToken('opaque tokens need introspection: configure clientId/clientSecret');
    }
    const waitMs = budget.take();
    if (waitMs > 0) throw busy(waitMs);
    try {
      return await introspectToken(token, trusted.issuer, trusted.introspection, config);
    } catch (error) {
      if (error instanceof CernSsoError && error.code === 'ERR_INVALID_TOKEN') {
        refusals?.set(key, error, { ttl: REFUSAL_TTL_MS });
      }
      throw error;
    }
  }

  async function check(token: string, key: string): Promise<VerifiedToken> {
    const jwt = peekJwt(token);
    if (jwt) {
      const { alg, issuer } = preflight(jwt, config, issuers);
      if (config.introspect === 'always' && issuer.introspection) return introspect(token, key, issuer);
      return verifyJwt(token, jwt, alg, issuer, config);
    }
    if (config.introspect === 'never') {
      throw invalidToken('the token is not a JWT (opaque tokens are not accepted by this API)');
    }
    if (!primary?.introspection) {
      throw invalidToken('opaque tokens need introspection: configure clientId/clientSecret');
    }
    // Checked before any request: the header parser already allowed only RFC 6750 b64token.
    if (token.length > MAX_OPAQUE_TOKEN_LENGTH) {
      throw invalidToken(`the token is not a JWT and longer than ${MAX_OPAQUE_TOKEN_LENGTH} characters`);
    }
    // An opaque token does not name its issuer: with several, it is introspected at the first.
    return introspect(token, key, primary);
  }

  return {
    cached(token, connection) {
      if (!verified) return undefined;
      const last = connection === undefined ? undefined : lastOnConnection.get(connection);
      // Compared exactly (never by a cheaper fingerprint): behind a proxy, one connection carries
      // the tokens of many clients. Valid until `exp`, like the cache entry it was found in.
      if (last?.token === token && now() < last.expiresAt) return last.verified;
      const found = verified.get(tokenKey(token));
      if (found?.expiresAt !== undefined && connection !== undefined) {
        lastOnConnection.set(connection, { token, verified: found, expiresAt: found.expiresAt });
      }
      return found;
    },
    validate(token) {
      const key = tokenKey(token);
      const cached = verified?.get(key);
      if (cached) return Promise.resolve(cached);
      const refused = refusals?.get(key);
      if (refused) return Promise.reject(refused);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = check(token, key)
          .then((result) => {
            const ttl = result.expiresAt === undefined ? 0 : Math.ceil(result.expiresAt - now());
            if (ttl > 0) verified?.set(key, result, { ttl });
            return result;
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
