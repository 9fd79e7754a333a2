import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { CernSsoError, upstreamUnavailable } from '../errors.js';

/** An OAuth error answer of a token endpoint (RFC 6749 §5.2), with nothing secret in it. */
export interface OAuthRejection {
  /** HTTP status of the answer (4xx). */
  status: number;
  /** The OAuth `error` code, e.g. `invalid_grant`. */
  error: string;
  /** `error_description`, cleaned of anything token-like and shortened; may be empty. */
  description: string;
}

/** JWTs (`eyJ...` header, dot, payload). */
const JWT_LIKE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?/g;
/** Long runs of token characters; redacted only when they look random (see below). */
const OPAQUE_CANDIDATE = /[A-Za-z0-9_~+/=-]{32,}/g;

/** Random-looking: digits and both letter cases, unlike names such as `it-service-admins`. */
function looksRandom(text: string): boolean {
  return /\d/.test(text) && /[a-z]/.test(text) && /[A-Z]/.test(text);
}

/** An upstream message safe to show: token-like substrings removed, at most 200 characters. */
export function sanitizeUpstreamMessage(message: unknown): string {
  if (typeof message !== 'string') return '';
  const cleaned = message
    .replace(JWT_LIKE, '[redacted]')
    .replace(OPAQUE_CANDIDATE, (candidate) => (looksRandom(candidate) ? '[redacted]' : candidate))
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > 200 ? `${cleaned.slice(0, 197)}...` : cleaned;
}

function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Maps an openid-client failure at a token endpoint to a `CernSsoError`:
 * - an OAuth error body with a 4xx status goes to `onRejected` (the caller knows what
 *   `invalid_grant` means for its grant);
 * - 5xx/429, unexpected non-OAuth answers, timeouts, refused connections, TLS and DNS errors are
 *   an outage: 503 `ERR_UPSTREAM_UNAVAILABLE` naming `what`;
 * - a `CernSsoError` (e.g. discovery's 503) passes through unchanged.
 * The original error is kept as `cause` for logs; messages never contain a token.
 */
export function mapTokenEndpointError(
  error: unknown,
  what: string,
  onRejected: (rejection: OAuthRejection) => CernSsoError,
): CernSsoError {
  if (error instanceof CernSsoError) return error;
  if (error instanceof ResponseBodyError) {
    if (isRetryableStatus(error.status)) return upstreamUnavailable(what, error);
    return onRejected({
      status: error.status,
      error: error.error,
      description: sanitizeUpstreamMessage(error.error_description),
    });
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    if (isRetryableStatus(error.status)) return upstreamUnavailable(what, error);
    const parameters = error.cause[0]?.parameters;
    return onRejected({
      status: error.status,
      error: parameters?.error ?? 'invalid_client',
      description: sanitizeUpstreamMessage(parameters?.error_description),
    });
  }
  if (error instanceof ClientError && error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM') {
    // A non-OAuth answer: a 4xx here means a wrong endpoint URL (configuration), not an outage.
    const status = error.cause instanceof Response ? error.cause.status : 0;
    if (status >= 400 && status < 500 && !isRetryableStatus(status)) {
      return new CernSsoError('ERR_CONFIG', `${what} answered HTTP ${status}: check the endpoint URL`, {
        status: 500,
        cause: error,
      });
    }
  }
  return upstreamUnavailable(what, error);
}
