import { invalidToken } from './errors.js';

/** Keycloak's default audience of access tokens. */
export const KEYCLOAK_DEFAULT_AUDIENCE = 'account';

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
export function wrongAudience(aud: unknown, expected: readonly string[]): string {
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
