/**
 * Error codes raised by express-cern-sso. Stable: match on `code`, not on the message.
 */
export type CernSsoErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_UPSTREAM_UNAVAILABLE'
  | 'ERR_IDP_MISCONFIGURED'
  | 'ERR_LOGIN_FAILED'
  | 'ERR_LOGIN_STATE'
  | 'ERR_LOGIN_DENIED'
  | 'ERR_NOT_AUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_SESSION_MISSING'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_TOKEN_EXCHANGE'
  | 'ERR_INVALID_TOKEN'
  | 'ERR_INVALID_REQUEST'
  | 'ERR_BAD_REQUEST'
  | 'ERR_INTERNAL';

export interface CernSsoErrorOptions {
  /** HTTP status an Express error handler should answer with. Default 500. */
  status?: number;
  /** Response headers to send (e.g. `Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
  /** Underlying error, kept for logs; never sent to the client. */
  cause?: unknown;
  /** Extra machine-readable details (e.g. the list of config problems). */
  details?: readonly string[];
  /** Whether the message may be shown to the client. Default: true for 4xx and 503. */
  expose?: boolean;
  /**
   * The OAuth / RFC 6750 `error` code of the JSON answer, when the library code alone does not
   * say it (e.g. `insufficient_scope` for a bearer request). Default: {@link oauthErrorFor}.
   */
  oauthError?: OAuthErrorCode;
}

/**
 * The OAuth 2.0 (RFC 6749), RFC 6750, RFC 9470 and OpenID Connect `error` codes the library
 * answers with, in the `error` member of every JSON error.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'login_required'
  | 'access_denied'
  | 'temporarily_unavailable'
  | 'server_error';

/** The OAuth `error` code that goes with a library code (and status, for the generic ones). */
export function oauthErrorFor(code: CernSsoErrorCode, status: number): OAuthErrorCode {
  switch (code) {
    case 'ERR_INVALID_TOKEN':
      return 'invalid_token';
    case 'ERR_UPSTREAM_UNAVAILABLE':
      return 'temporarily_unavailable';
    case 'ERR_NOT_AUTHENTICATED':
    case 'ERR_SESSION_MISSING':
    case 'ERR_SESSION_EXPIRED':
      return 'login_required';
    case 'ERR_FORBIDDEN':
    case 'ERR_LOGIN_DENIED':
      return 'access_denied';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request';
  }
}

/**
 * The one error type of the library. Shaped for Express's default error handler:
 * `status` and `headers` are honoured by it, and `expose` is true for 4xx/503 so that the
 * message (which never contains a token or secret) may be shown to the client.
 */
export class CernSsoError extends Error {
  override readonly name = 'CernSsoError';
  readonly code: CernSsoErrorCode;
  readonly status: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly expose: boolean;
  readonly details: readonly string[];
  /** The OAuth / RFC 6750 `error` code of the JSON answer (`invalid_token`, `server_error`...). */
  readonly oauthError: OAuthErrorCode;

  constructor(code: CernSsoErrorCode, message: string, options: CernSsoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.statusCode = this.status;
    this.headers = options.headers ?? {};
    this.expose = options.expose ?? (this.status < 500 || this.status === 503);
    this.details = options.details ?? [];
    this.oauthError = options.oauthError ?? oauthErrorFor(code, this.status);
  }
}

/** Default `Retry-After` (seconds) for upstream outages. */
export const DEFAULT_RETRY_AFTER_SEC = 5;

/** An upstream (Keycloak, AuthZ API) outage: 503 with `Retry-After`. */
export function upstreamUnavailable(
  what: string,
  cause?: unknown,
  retryAfterSec = DEFAULT_RETRY_AFTER_SEC,
): CernSsoError {
  return new CernSsoError('ERR_UPSTREAM_UNAVAILABLE', `${what} is unavailable, please retry shortly`, {
    status: 503,
    headers: { 'Retry-After': String(retryAfterSec) },
    cause,
  });
}

/**
 * The identity provider is misconfigured (the `issuer` option answers 404, or serves a document
 * for another issuer): the app must be fixed, retrying will not help. Status 500, not 503: the
 * fault is this application's configuration, so no `Retry-After` invites clients to come back,
 * and monitoring counts it as the app's error. Not 502 either: that would blame Keycloak, and
 * proxies treat 502 as a failed gateway. The message names no internals; the log says what to fix.
 */
export function idpMisconfigured(cause?: unknown): CernSsoError {
  return new CernSsoError(
    'ERR_IDP_MISCONFIGURED',
    'Sign-in is misconfigured for this application; please tell its administrators.',
    { status: 500, cause, expose: true },
  );
}
