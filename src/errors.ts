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

  constructor(code: CernSsoErrorCode, message: string, options: CernSsoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.statusCode = this.status;
    this.headers = options.headers ?? {};
    this.expose = options.expose ?? (this.status < 500 || this.status === 503);
    this.details = options.details ?? [];
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
