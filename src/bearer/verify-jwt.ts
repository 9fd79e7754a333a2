import { errors as joseErrors, jwtVerify } from 'jose';
import type { CernClaims } from '../auth/user.js';
import { checkAuthorizedParty, wrongAudience } from './claim-checks.js';
import { invalidToken } from './errors.js';
import type { TrustedIssuer } from './issuers.js';
import type { BearerAlgorithm, ResolvedBearerConfig } from './options.js';
import type { VerifiedToken } from './token-cache.js';
import type { UnverifiedJwt } from './token-format.js';

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
 * (allowed algorithms only), exact `iss`, `aud` containing one of the expected audiences, `exp`
 * required, `exp`/`nbf` with the clock tolerance, and the `azp` allow-list when configured.
 * The caller has already checked the algorithm, the issuer and the token type.
 */
export async function verifyJwt(
  token: string,
  jwt: UnverifiedJwt,
  alg: BearerAlgorithm,
  trusted: TrustedIssuer,
  config: ResolvedBearerConfig,
): Promise<VerifiedToken> {
  const key = await trusted.jwks.getKey({ kid: jwt.header.kid, alg });
  let claims: CernClaims;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      issuer: trusted.issuer,
      audience: config.audiences,
      clockTolerance: config.clockToleranceSec,
      requiredClaims: ['exp'],
    });
    claims = payload;
  } catch (error) {
    throw describeFailure(error, config);
  }
  checkAuthorizedParty(claims, config.azp);
  const exp = claims.exp;
  return { claims, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}
