import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { CernSsoError, upstreamUnavailable } from '../errors.js';
import { cutText, isUnsafeCodeUnit, redactSecrets } from '../untrusted-text.js';

/** An OAuth error answer of a token endpoint (RFC 6749 §5.2), with nothing secret in it. */
export interface OAuthRejection {
  /** HTTP status of the answer (4xx). */
  status: number;
  /** The OAuth `error` code, e.g. `invalid_grant`. */
  error: string;
  /** `error_description`, cleaned of anything token-like and shortened; may be empty. */
  description: string;
}

/** Upstream text is cut to this many characters before anything else looks at it. */
const MAX_UPSTREAM_TEXT = 2048;
/** Longest message kept. */
const MAX_MESSAGE = 200;

/**
 * An upstream message safe to show: cut to 2048 characters first, control characters (line
 * breaks, bidi overrides...) and runs of white space turned into one space, token-like substrings
 * removed, at most 200 characters. Linear in the input length (see `untrusted-text.ts`).
 */
export function sanitizeUpstreamMessage(message: unknown): string {
  if (typeof message !== 'string') return '';
  let flat = '';
  let space = false;
  const cut = cutText(message, MAX_UPSTREAM_TEXT);
  for (let index = 0; index < cut.length; index++) {
    const code = cut.charCodeAt(index);
    // Lone surrogates too: they would come out as U+FFFD in JSON and headers.
    const blank = isUnsafeCodeUnit(code) || WHITE_SPACE.has(code) || isLoneSurrogate(cut, index);
    if (blank) {
      space = true;
      continue;
    }
    if (space && flat !== '') flat += ' ';
    space = false;
    flat += cut.charAt(index);
  }
  const cleaned = redactSecrets(flat, { slashInTokens: true });
  if (cleaned.length <= MAX_MESSAGE) return cleaned;
  // cutText never splits a surrogate pair; its ellipsis is replaced by ASCII dots.
  return `${cutText(cleaned, MAX_MESSAGE - 3).slice(0, -1)}...`;
}

/** White space other than the unsafe characters (which are blanked anyway). */
const WHITE_SPACE = new Set([0x20, 0xa0, 0x1680, 0x202f, 0x205f, 0x3000, 0xfeff, ...range(0x2000, 0x200a)]);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, offset) => from + offset);
}

function isLoneSurrogate(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(index + 1);
    return !(next >= 0xdc00 && next <= 0xdfff);
  }
  if (code >= 0xdc00 && code <= 0xdfff) {
    const previous = text.charCodeAt(index - 1);
    return !(previous >= 0xd800 && previous <= 0xdbff);
  }
  return false;
}

/** The OAuth `error` code as sent, when it is one (RFC 6749 §5.2: printable ASCII); else `invalid_request`. */
function oauthErrorCode(error: unknown): string {
  return typeof error === 'string' && /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(error)
    ? error
    : 'invalid_request';
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
      error: oauthErrorCode(error.error),
      description: sanitizeUpstreamMessage(error.error_description),
    });
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    if (isRetryableStatus(error.status)) return upstreamUnavailable(what, error);
    const parameters = error.cause[0]?.parameters;
    return onRejected({
      status: error.status,
      error: parameters?.error === undefined ? 'invalid_client' : oauthErrorCode(parameters.error),
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
