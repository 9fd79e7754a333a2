import { decodeProtectedHeader, errors as joseErrors } from 'jose';
import { audienceList, checkAudience, peekJwt, type UnverifiedJwt } from '../bearer/jwt.js';
import { resolveBearerConfig } from '../bearer/options.js';
import { createTokenValidator } from '../bearer/validator.js';
import { CernSsoError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';

/** Options of {@link inspectToken}. */
export interface InspectTokenOptions {
  /** The one trusted issuer. */
  issuer: string;
  /** Expected audiences; when absent or empty, `aud` is not checked (and the result says so). */
  audiences?: readonly string[] | undefined;
  /** Client credentials, for introspection of opaque tokens. */
  client?: { clientId: string; clientSecret: string } | undefined;
  /** Clock skew allowed on `exp`/`nbf`. Default 30, as `bearerAuth()`. */
  clockToleranceSec?: number;
  /** Timeout of discovery, JWKS and introspection requests. Default 10 000. */
  httpTimeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** What {@link inspectToken} found out. */
export interface TokenInspection {
  valid: boolean;
  /** Why the token is not valid (empty when it is). Never contains the token. */
  errors: string[];
  /** The JOSE header (decoded, not trusted unless `valid`); `null` for opaque tokens. */
  header: Record<string, unknown> | null;
  /**
   * The verified claims when `valid`; else the decoded, untrusted ones (or `null`). For opaque
   * tokens, the introspection answer.
   */
  claims: Record<string, unknown> | null;
  /** `signature` (JWT checked with the issuer's JWKS), `introspection`, or `null` when not checked. */
  checkedBy: 'signature' | 'introspection' | null;
  /** Whether `aud` was checked against expected audiences. */
  audienceChecked: boolean;
}

/** Claim failures that jose reports only once the signature has been verified. */
function isClaimFailure(error: unknown): error is joseErrors.JWTClaimValidationFailed {
  return error instanceof joseErrors.JWTClaimValidationFailed || error instanceof joseErrors.JWTExpired;
}

/** `exp`/`nbf` problems, worded as `bearerAuth()` words them. */
function timeProblems(claims: Record<string, unknown>, nowMs: number, toleranceSec: number): string[] {
  const now = Math.floor(nowMs / 1000);
  const problems: string[] = [];
  const { exp, nbf } = claims;
  if (typeof exp !== 'number') problems.push('the token has no valid expiry (exp)');
  else if (exp <= now - toleranceSec) problems.push('the token has expired');
  if (typeof nbf === 'number' && nbf > now + toleranceSec) {
    problems.push('the token is not valid yet (nbf is in the future)');
  }
  return problems;
}

function audienceProblem(aud: unknown, audiences: readonly string[]): string[] {
  try {
    checkAudience(aud, audiences);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

function headerOf(token: string): Record<string, unknown> | null {
  try {
    return { ...decodeProtectedHeader(token) };
  } catch {
    return null;
  }
}

/**
 * Checks an access token the way `bearerAuth()` does, by composing its pieces (token decoding,
 * issuer registry with discovery and JWKS, the validator with its algorithm, issuer, token type,
 * signature, expiry and audience checks, introspection for opaque tokens), with two differences
 * for a command-line inspector:
 * - the audience is optional: without one, every other check runs and `audienceChecked` is false;
 * - once the signature is verified, every claim problem is listed (expired AND wrong audience),
 *   not only the first.
 *
 * Resolves with `valid: false` for a bad token; rejects with a 503 `CernSsoError` when the
 * issuer (discovery, JWKS, introspection) is unavailable, and with `ERR_CONFIG` for bad options.
 */
export async function inspectToken(token: string, options: InspectTokenOptions): Promise<TokenInspection> {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const audienceChecked = options.audiences !== undefined && options.audiences.length > 0;
  const config = resolveBearerConfig({
    issuer: options.issuer,
    // Replaced below when no audience is expected (bearerAuth() always requires one).
    audience: audienceChecked && options.audiences ? [...options.audiences] : 'unchecked',
    introspect: options.client ? 'opaque' : 'never',
    ...(options.client ?? {}),
    clockToleranceSec: options.clockToleranceSec ?? 30,
    httpTimeoutMs: options.httpTimeoutMs ?? 10_000,
    verifiedTokenCacheMax: 0,
    logger,
    clock: { now },
  });
  const issuer = config.issuers[0] ?? options.issuer;

  const result = (
    valid: boolean,
    errors: string[],
    header: Record<string, unknown> | null,
    claims: Record<string, unknown> | null,
    checkedBy: TokenInspection['checkedBy'],
  ): TokenInspection => ({ valid, errors, header, claims, checkedBy, audienceChecked });

  let jwt: UnverifiedJwt | undefined;
  try {
    jwt = peekJwt(token);
  } catch (error) {
    return result(
      false,
      [error instanceof Error ? error.message : 'the token is malformed'],
      headerOf(token),
      null,
      null,
    );
  }
  const header = jwt ? { ...jwt.header } : null;
  const decoded = jwt ? { ...jwt.payload } : null;

  if (!jwt && !options.client) {
    return result(
      false,
      [
        'the token is not a JWT; an opaque token can only be checked by introspection, which needs ' +
          'client credentials (CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET)',
      ],
      null,
      null,
      null,
    );
  }
  if (decoded && typeof decoded.iss === 'string' && decoded.iss !== issuer) {
    // Said before any request: keys are only ever fetched from the configured issuer.
    return result(
      false,
      [`the token was issued by ${decoded.iss}, not by the configured issuer ${issuer} (CERN_SSO_ISSUER)`],
      header,
      decoded,
      null,
    );
  }

  // Without an expected audience, a JWT is checked against its own `aud` (always satisfied).
  const audiences = audienceChecked ? config.audiences : audienceList(decoded?.aud);
  const validator = createTokenValidator({ ...config, audiences });
  const checkedBy = jwt ? 'signature' : 'introspection';
  try {
    const verified = await validator.validate(token);
    return result(true, [], header, { ...verified.claims }, checkedBy);
  } catch (error) {
    if (!(error instanceof CernSsoError) || error.code !== 'ERR_INVALID_TOKEN') throw error;
    if (!decoded) {
      if (!audienceChecked && error.message.includes('audience (aud)')) {
        return result(
          false,
          [
            'the issuer says the token is active, but an opaque token can only be fully checked ' +
              'with the audience it is meant for: pass --audience (or set CERN_SSO_AUDIENCE)',
          ],
          null,
          null,
          checkedBy,
        );
      }
      const message = error.message.startsWith('the token is not active')
        ? "the token is not a JWT, and the issuer's introspection does not know it as an active token " +
          '(expired, revoked, or not a token at all)'
        : error.message;
      return result(false, [message], null, null, checkedBy);
    }
    if (!isClaimFailure(error.cause)) return result(false, [error.message], header, decoded, checkedBy);
    // jose checks claims only after the signature: the signature is good, list every claim problem.
    const problems = [
      ...timeProblems(decoded, now(), config.clockToleranceSec),
      ...(audienceChecked ? audienceProblem(decoded.aud, config.audiences) : []),
    ];
    const missingOwnAudience = !audienceChecked && audiences.length === 0 && error.cause.claim === 'aud';
    const errors = missingOwnAudience ? problems : [...new Set([...problems, error.message])];
    if (errors.length === 0) {
      // The token has no `aud` and none was asked for: everything else checked out.
      return result(true, [], header, decoded, checkedBy);
    }
    return result(false, errors, header, decoded, checkedBy);
  }
}
