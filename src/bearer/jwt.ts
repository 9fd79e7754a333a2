import {
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type ProtectedHeaderParameters,
} from 'jose';
import { JwksUnavailableError } from '../auth/issuer-registry.js';
import type { CernClaims } from '../auth/user.js';
import { challengeText } from '../challenge.js';
import { mapUpstreamError } from '../error-mapper.js';
import { cutText, redactSecrets } from '../untrusted-text.js';
import { CernSsoError, invalidToken, upstreamUnavailable } from '../errors.js';
import type { BearerAlgorithm, ResolvedBearerConfig } from './options.js';

/** Keycloak's default audience of access tokens. */
const KEYCLOAK_DEFAULT_AUDIENCE = 'account';

/** A token that passed verification (or introspection). */
export interface VerifiedToken {
  claims: CernClaims;
  /** Epoch ms of `exp`; `undefined` when unknown (such results are not cached). */
  expiresAt: number | undefined;
}

/** `aud` as a list (a string, a list, or absent). */
export function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((item): item is string => typeof item === 'string');
  return [];
}

/**
 * The 401 description for a token whose `aud` has none of the expected audiences. Names the
 * expected ones and, for Keycloak's default `account`, says how to fix the token request.
 */
function wrongAudience(aud: unknown, expected: readonly string[]): string {
  const quoted = expected.map((value) => `"${value}"`);
  const wanted = quoted.length === 1 ? (quoted[0] ?? '') : `any of ${quoted.join(', ')}`;
  const have = audienceList(aud);
  let message =
    have.length === 0
      ? `the token has no audience (aud); this API expects ${wanted}`
      : `the token's audience (aud) does not include ${wanted}`;
  if (have.includes(KEYCLOAK_DEFAULT_AUDIENCE)) {
    message +=
      `: its audience is "${KEYCLOAK_DEFAULT_AUDIENCE}", Keycloak's default audience for access tokens;` +
      ` an audience mapper is needed (add one for ${quoted[0] ?? 'this API'} to the client that requests the token)`;
  }
  return message;
}

/** Throws 401 unless `aud` contains one of `expected`. */
export function checkAudience(aud: unknown, expected: readonly string[]): void {
  const have = audienceList(aud);
  if (!expected.some((value) => have.includes(value))) throw invalidToken(wrongAudience(aud, expected));
}

const ACCESS_TOKEN_HEADER_TYPES = new Set(['jwt', 'at+jwt', 'application/at+jwt']);

/** By the lower-cased `typ` claim. A `Map`: the key is the token's, `constructor` must not resolve. */
const NOT_ACCESS_TOKENS = new Map([
  ['id', 'ID tokens are refused: send an access token'],
  ['refresh', 'refresh tokens are refused: send an access token'],
  ['offline', 'offline tokens are refused: send an access token'],
  ['logout', 'logout tokens are refused: send an access token'],
]);

/**
 * Refuses tokens that are not access tokens. The JOSE header `typ` may be absent, `JWT` or
 * `at+jwt` (RFC 9068); Keycloak's `typ` claim, when present, must be `Bearer` (ID tokens say `ID`,
 * refresh tokens `Refresh`, logout tokens `Logout`).
 */
export function checkTokenType(headerTyp: unknown, claimTyp: unknown): void {
  if (headerTyp !== undefined) {
    if (typeof headerTyp !== 'string' || !ACCESS_TOKEN_HEADER_TYPES.has(headerTyp.toLowerCase())) {
      throw invalidToken('this JWT is not an access token (its header typ is not JWT or at+jwt)');
    }
  }
  if (claimTyp !== undefined) {
    const typ = typeof claimTyp === 'string' ? claimTyp.toLowerCase() : '';
    if (typ !== 'bearer') {
      throw invalidToken(
        NOT_ACCESS_TOKENS.get(typ) ?? 'this token is not an access token (typ is not Bearer)',
      );
    }
  }
}

/** Throws 401 when an `azp` allow-list is configured and the token's client is not on it. */
export function checkAuthorizedParty(
  claims: Record<string, unknown>,
  allowed: readonly string[] | undefined,
): void {
  if (!allowed) return;
  const azp = typeof claims.azp === 'string' ? claims.azp : claims.client_id;
  if (typeof azp !== 'string' || !allowed.includes(azp)) {
    throw invalidToken('the token was issued to a client (azp) this API does not accept');
  }
}

/** A JWT decoded WITHOUT verification: only to route it (issuer, algorithm, key id). */
export interface UnverifiedJwt {
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

/**
 * Decodes a compact JWS without verifying it, or returns `undefined` for anything else (an
 * opaque token, introspected instead). A token whose header is a JWS header but whose payload
 * is not a JSON object is a malformed JWT (401). Nothing decoded here is trusted: it only
 * decides where (and whether) the token is checked.
 */
export function peekJwt(token: string): UnverifiedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === '' || parts[1] === '') return undefined;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
  if (typeof header.alg !== 'string') return undefined;
  try {
    return { header, payload: decodeJwt(token) };
  } catch (error) {
    throw invalidToken('the token is malformed (its payload is not a JWT claims set)', error);
  }
}

/** Longest part of a token's `iss` repeated in an error description. */
const MAX_ISS_SHOWN = 120;

/**
 * The 401 description for a token of an issuer this API does not trust: the expected issuer(s)
 * and the received `iss`. The `iss` is the sender's text: cut, secrets redacted, and reduced to
 * printable ASCII without quotes (safe in JSON, logs and the `WWW-Authenticate` challenge).
 */
export function untrustedIssuer(iss: string, expected: readonly string[]): string {
  const received = challengeText(redactSecrets(cutText(iss, MAX_ISS_SHOWN)));
  const quoted = expected.map((value) => `"${value}"`);
  const wanted = quoted.length === 1 ? (quoted[0] ?? '') : `one of ${quoted.join(', ')}`;
  return `the token issuer (iss) is not trusted by this API: expected ${wanted}, received "${received}"`;
}

/**
 * Checks done on the unverified token, before any network request: the algorithm is on the
 * allow-list, `iss` names a trusted issuer (found in a `Map`: keys are only ever fetched from a
 * configured issuer), the token is an access token and `kid`, if any, is a string.
 */
export function preflight<T>(
  jwt: UnverifiedJwt,
  config: ResolvedBearerConfig,
  trusted: ReadonlyMap<string, T>,
): { alg: BearerAlgorithm; issuer: T } {
  const alg = jwt.header.alg ?? '';
  if (alg.toLowerCase() === 'none') throw invalidToken('unsigned tokens (alg "none") are refused');
  if (!(config.algorithms as readonly string[]).includes(alg)) {
    throw invalidToken(`the token algorithm is not accepted (allowed: ${config.algorithms.join(', ')})`);
  }
  if (typeof jwt.payload.iss !== 'string') throw invalidToken('the token has no issuer (iss)');
  const issuer = trusted.get(jwt.payload.iss);
  if (issuer === undefined) throw invalidToken(untrustedIssuer(jwt.payload.iss, config.issuers));
  checkTokenType(jwt.header.typ, jwt.payload.typ);
  // JSON allows any value here; only a string can name a published key.
  const kid: unknown = jwt.header.kid;
  if (kid !== undefined && typeof kid !== 'string') {
    throw invalidToken('the token key id (kid) is not a string');
  }
  return { alg: alg as BearerAlgorithm, issuer };
}

/**
 * A failure of the issuer's shared discovery (already a `CernSsoError`, mapped where the
 * discovery runs), worded for an API: an outage names "the token issuer" (which need not be
 * CERN's), with the discovery's `Retry-After`; a misconfiguration stays as it is.
 */
export function asTokenIssuer(error: unknown): unknown {
  if (!(error instanceof CernSsoError) || error.code !== 'ERR_UPSTREAM_UNAVAILABLE') return error;
  return upstreamUnavailable('The token issuer', error.cause, Number(error.headers['Retry-After']) || 1);
}

/** The issuer's key for this token, or a 401 (no such key) / 503 (issuer or JWKS down). */
async function keyFor(
  keys: JWTVerifyGetKey,
  header: { alg: BearerAlgorithm; kid: string | undefined },
): Promise<Parameters<typeof jwtVerify>[1]> {
  try {
    const { alg, kid } = header;
    return await keys(kid === undefined ? { alg } : { alg, kid }, { payload: '', signature: '' });
  } catch (error) {
    const { kid } = header;
    if (error instanceof joseErrors.JWKSNoMatchingKey) {
      throw invalidToken(
        kid === undefined
          ? 'the token names no key (kid) and the issuer publishes no key for its algorithm'
          : 'the token was signed with a key the issuer does not publish (unknown kid)',
        error,
      );
    }
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys) {
      throw invalidToken(
        kid === undefined
          ? 'the token names no key (kid) and the issuer publishes several keys'
          : 'the issuer publishes several keys with the key id (kid) of the token',
        error,
      );
    }
    if (error instanceof JwksUnavailableError) {
      // jose keeps no HTTP answer of a failed JWKS fetch (refused, timeout, "Expected 200 OK",
      // not a JWKS): an outage, retried after the registry's cool-down.
      const what = "The token issuer's signing keys (JWKS)";
      throw mapUpstreamError(error.cause, {
        what,
        retryAfterSec: error.retryAfterSec,
        onInvalid: () => upstreamUnavailable(what, error, error.retryAfterSec),
      });
    }
    if (error instanceof CernSsoError) throw asTokenIssuer(error);
    throw invalidToken("the issuer's key for this token cannot be used", error);
  }
}

/** Maps a jose verification failure to a 401 whose description says what is wrong. */
function describeFailure(error: unknown, config: ResolvedBearerConfig): Error {
  if (error instanceof joseErrors.JWTExpired) return invalidToken('the token has expired', error);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return invalidToken('the token is not valid yet (nbf is in the future)', error);
      case 'aud':
        return invalidToken(wrongAudience(error.payload.aud, config.audiences), error);
      case 'iss':
        return invalidToken('the token was issued by another issuer', error);
      case 'exp':
        return invalidToken('the token has no valid expiry (exp)', error);
      case 'iat':
        return invalidToken('the token has an invalid issue time (iat)', error);
      default:
        return invalidToken(`the token's "${error.claim}" claim is invalid`, error);
    }
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return invalidToken('the token signature is invalid', error);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return invalidToken('the token algorithm is not accepted', error);
  }
  if (error instanceof joseErrors.JOSENotSupported) {
    // RFC 7515 §4.1.11: a critical header parameter the recipient does not understand.
    return invalidToken('the token uses a header extension (crit) this API does not support', error);
  }
  if (error instanceof joseErrors.JOSEError) return invalidToken('the token is malformed', error);
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Verifies a JWT access token of a trusted issuer: signature with the issuer's published key
 * (`keys`, the issuer's shared JWKS; allowed algorithm only), exact `iss`, `aud` containing one
 * of the expected audiences, `exp` required, `exp`/`nbf` with the clock tolerance, and the `azp`
 * allow-list when configured. The caller has already run {@link preflight}.
 */
export async function verifyJwt(
  token: string,
  jwt: UnverifiedJwt,
  alg: BearerAlgorithm,
  issuer: { issuer: string; keys: JWTVerifyGetKey },
  config: ResolvedBearerConfig,
): Promise<VerifiedToken> {
  const key = await keyFor(issuer.keys, { alg, kid: jwt.header.kid });
  let claims: CernClaims;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      issuer: issuer.issuer,
      audience: config.audiences,
      clockTolerance: config.clockToleranceSec,
      requiredClaims: ['exp'],
      currentDate: new Date(config.now()),
    });
    claims = payload;
  } catch (error) {
    throw describeFailure(error, config);
  }
  checkAuthorizedParty(claims, config.azp);
  const exp = claims.exp;
  return { claims, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}
