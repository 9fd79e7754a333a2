import { bearerChallenge } from './challenge.js';
import { sanitizeUpstreamMessage } from './untrusted-text.js';

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
  | 'ERR_STEP_UP_REQUIRED'
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
    case 'ERR_STEP_UP_REQUIRED':
      return 'insufficient_user_authentication';
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

/**
 * A misconfiguration (discovery, a client the provider refuses, a redirect URI it does not know)
 * is rechecked at most this often: it will not fix itself sooner.
 */
export const MISCONFIGURED_RECHECK_MS = 30_000;

/**
 * A configuration error (`ERR_CONFIG`, 500): `message` says what is wrong, `problems` lists each
 * one as `option: problem` (the CLI turns the option into its environment variable).
 */
export function configError(
  message: string,
  problems: readonly string[] = [],
  cause?: unknown,
): CernSsoError {
  return new CernSsoError('ERR_CONFIG', message, { details: problems, cause });
}

/** A bad argument or request (`ERR_BAD_REQUEST`, 400), naming the method: `method: message`. */
export function badRequest(method: string | undefined, message: string): CernSsoError {
  return new CernSsoError('ERR_BAD_REQUEST', method === undefined ? message : `${method}: ${message}`, {
    status: 400,
  });
}

/**
 * A malformed protocol request (`ERR_INVALID_REQUEST`, 400, OAuth `invalid_request`); with
 * `bearer`, the RFC 6750 challenge (`WWW-Authenticate: Bearer error="invalid_request"`) too.
 */
export function invalidRequest(description: string, options: { bearer?: boolean } = {}): CernSsoError {
  const headers: Record<string, string> =
    options.bearer === true ? { 'WWW-Authenticate': bearerChallenge('invalid_request', description) } : {};
  return new CernSsoError('ERR_INVALID_REQUEST', description, { status: 400, headers });
}

/**
 * A bearer token refused (`ERR_INVALID_TOKEN`, 401 `invalid_token`, with its RFC 6750 challenge):
 * expired, not yet valid, bad signature, wrong issuer or audience, not a token at all.
 */
export function invalidToken(description: string, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_INVALID_TOKEN', description, {
    status: 401,
    headers: { 'WWW-Authenticate': bearerChallenge('invalid_token', description) },
    cause,
  });
}

/** Nobody is signed in (`ERR_NOT_AUTHENTICATED`, 401). */
export function notAuthenticated(
  message = 'You are not signed in.',
  headers: Record<string, string> = {},
): CernSsoError {
  return new CernSsoError('ERR_NOT_AUTHENTICATED', message, { status: 401, headers });
}

/** Signed in but not allowed (`ERR_FORBIDDEN`, 403; `insufficient_scope` for bearer requests). */
export function forbidden(
  message: string,
  options: { bearer?: boolean; headers?: Record<string, string> } = {},
): CernSsoError {
  return new CernSsoError('ERR_FORBIDDEN', message, {
    status: 403,
    headers: options.headers ?? {},
    oauthError: options.bearer === true ? 'insufficient_scope' : 'access_denied',
  });
}

/**
 * Signed in, but not recently or strongly enough for this route (`requireAuth({ maxAgeSec, acr })`):
 * `ERR_STEP_UP_REQUIRED`, 401, RFC 9470 `insufficient_user_authentication` with its challenge
 * (`acr_values` and `max_age` when given: what a new sign-in must satisfy).
 */
export function stepUpRequired(
  description: string,
  requirement: { acrValues?: string | undefined; maxAge?: number | undefined },
): CernSsoError {
  const attributes: [string, string][] = [];
  if (requirement.acrValues !== undefined) attributes.push(['acr_values', requirement.acrValues]);
  if (requirement.maxAge !== undefined) attributes.push(['max_age', String(requirement.maxAge)]);
  return new CernSsoError('ERR_STEP_UP_REQUIRED', description, {
    status: 401,
    headers: {
      'WWW-Authenticate': bearerChallenge('insufficient_user_authentication', description, [], attributes),
    },
  });
}

/**
 * A sign-in that asked for `acr_values` came back with another `acr` (the identity provider
 * ignored the request, or the user could not reach that level): `ERR_LOGIN_FAILED`, 403
 * `access_denied`. Nobody is signed in by it (an earlier sign-in of the browser stays).
 */
export function acrNotAchieved(asked: string, got: unknown): CernSsoError {
  const shown = typeof got === 'string' && got.length <= 64 ? `"${sanitizeUpstreamMessage(got)}"` : 'none';
  return new CernSsoError(
    'ERR_LOGIN_FAILED',
    `This page needs a stronger sign-in (authentication level ${asked.split(' ').join(' or ')}), ` +
      `but the identity provider signed you in at level ${shown}. Ask the application's ` +
      'administrators which sign-in method it needs.',
    { status: 403, oauthError: 'access_denied', details: ['acr'] },
  );
}

/** The sign-in ended (refresh refused, session gone): `ERR_SESSION_EXPIRED`, 401. */
export function sessionExpired(): CernSsoError {
  return new CernSsoError('ERR_SESSION_EXPIRED', 'Your CERN sign-in has expired. Please sign in again.', {
    status: 401,
  });
}

/** express-session is not mounted or did not load the session (`ERR_SESSION_MISSING`, 500). */
export function sessionMissing(): CernSsoError {
  return new CernSsoError(
    'ERR_SESSION_MISSING',
    'Sessions are not available: mount express-session (app.use(session({...}))) before cernSso(), and check that its store is reachable.',
    { status: 500 },
  );
}

/** Why a callback could not be matched to a login this browser started. */
export type LoginStateProblem = 'missing' | 'unknown' | 'unbound' | 'expired' | 'repeated';

const UNKNOWN_LOGIN =
  'This sign-in link is unknown, expired or was already used, or it was opened in another browser ' +
  '(are cookies enabled?). Please start the sign-in again.';

const LOGIN_STATE_MESSAGES: Readonly<Record<LoginStateProblem, string>> = {
  missing: 'The sign-in response is missing its "state" parameter. Please start the sign-in again.',
  unknown: UNKNOWN_LOGIN,
  // A genuine login cookie without this browser's binding cookie: to the person, the same thing
  // as a link from another browser; to the log, a reason of its own (see `loginStateLogNote`).
  unbound: UNKNOWN_LOGIN,
  expired: 'The sign-in took too long and has expired. Please start the sign-in again.',
  repeated: 'The sign-in response repeats a parameter. Please start the sign-in again.',
};

/**
 * 400 `ERR_LOGIN_STATE` with a message a person understands; `details` holds the problem (for
 * logs and for callers matching on it).
 */
export function loginState(problem: LoginStateProblem, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_LOGIN_STATE', LOGIN_STATE_MESSAGES[problem], {
    status: 400,
    details: [problem],
    cause,
  });
}

/** For the log only: why a callback was refused, when the message shown does not say it. */
export function loginStateLogNote(error: CernSsoError): string {
  if (error.code !== 'ERR_LOGIN_STATE' || !error.details.includes('unbound')) return '';
  return (
    ' (reason: the login cookie is genuine but the browser-binding cookie is missing or belongs to ' +
    'another browser: a callback this browser did not start, possibly login CSRF by cookie tossing)'
  );
}

/** The sign-in failed (`ERR_LOGIN_FAILED`, or `code`), 400: the message says why, in our words. */
export function loginFailed(
  message: string,
  cause?: unknown,
  code: 'ERR_LOGIN_FAILED' | 'ERR_SESSION_EXPIRED' = 'ERR_LOGIN_FAILED',
): CernSsoError {
  return new CernSsoError(code, message, { status: 400, cause });
}

/** Shown when a refusal gives no usable message. */
const LOGIN_DENIED_DEFAULT = 'Your account may not sign in to this application.';

/**
 * Refuses a sign-in (`ERR_LOGIN_DENIED`, 403, OAuth `access_denied`). Throw it from `onLogin` to
 * refuse a user: the 403 page (or JSON `error_description`) shows `message`, so write it for the
 * person signing in, e.g. `loginDenied('Guest accounts cannot use this application.')`. It is
 * shown on one line, at most 200 characters (longer ones are cut), HTML-escaped; control
 * characters are removed and token-like strings redacted.
 */
export function loginDenied(message: string, cause?: unknown): CernSsoError {
  const shown = sanitizeUpstreamMessage(message) || LOGIN_DENIED_DEFAULT;
  return new CernSsoError('ERR_LOGIN_DENIED', shown, { status: 403, cause });
}

/**
 * The app's `onLogin` threw or rejected (`ERR_LOGIN_FAILED`, 500): a message of our own, the
 * app's error in `cause` for the log only.
 */
export function onLoginFailed(cause: unknown): CernSsoError {
  return new CernSsoError('ERR_LOGIN_FAILED', 'The sign-in could not be completed.', {
    status: 500,
    expose: true,
    cause,
    details: ['onLogin threw or rejected'],
  });
}

/** A token exchange the provider refused (`ERR_TOKEN_EXCHANGE`) with the status that fits. */
export function tokenExchangeFailed(message: string, status: 400 | 401 | 403, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_TOKEN_EXCHANGE', message, { status, cause });
}

/** A bug or an unknown failure (`ERR_INTERNAL`, 500): the message is never shown. */
export function internal(cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_INTERNAL', 'Internal error', { status: 500, cause });
}

/** Longest `Retry-After` the library sends (seconds), whatever an upstream asked for. */
export const MAX_RETRY_AFTER_SEC = 300;

/**
 * An upstream (Keycloak, AuthZ API) outage: 503 with `Retry-After` (at least 1 s, at most
 * {@link MAX_RETRY_AFTER_SEC}).
 */
export function upstreamUnavailable(
  what: string,
  cause?: unknown,
  retryAfterSec = DEFAULT_RETRY_AFTER_SEC,
): CernSsoError {
  const seconds = Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, Math.ceil(retryAfterSec)));
  return new CernSsoError('ERR_UPSTREAM_UNAVAILABLE', `${what} is unavailable, please retry shortly`, {
    status: 503,
    headers: { 'Retry-After': String(seconds) },
    cause,
  });
}

/**
 * More new bearer tokens than `introspectionsPerSecond` allows: 503 `ERR_UPSTREAM_UNAVAILABLE`
 * without asking the issuer, `Retry-After` when the next introspection is allowed.
 */
export function introspectionBusy(waitMs: number): CernSsoError {
  return new CernSsoError(
    'ERR_UPSTREAM_UNAVAILABLE',
    'Too many new tokens to check at the moment: please retry shortly',
    {
      status: 503,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    },
  );
}

/**
 * The identity provider or this application's registration there is misconfigured (the `issuer`
 * answers 404 or serves a document for another issuer, the client credentials are refused, the
 * redirect URI is not registered): the app must be fixed, retrying will not help. Status 500, not
 * 503: the fault is this application's configuration, so no `Retry-After` invites clients to come
 * back, and monitoring counts it as the app's error. Not 502 either: that would blame Keycloak, and
 * proxies treat 502 as a failed gateway. The message names no internals; `fix` (in `details`, for
 * the log and the CLI) says what to fix, as `option: problem` (e.g. `clientSecret: ...`).
 */
export function idpMisconfigured(cause?: unknown, fix?: string): CernSsoError {
  return new CernSsoError(
    'ERR_IDP_MISCONFIGURED',
    'Sign-in is misconfigured for this application; please tell its administrators.',
    { status: 500, cause, expose: true, details: fix === undefined ? [] : [fix] },
  );
}
