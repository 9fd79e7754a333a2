/**
 * The one place that turns what openid-client (oauth4webapi), jose, axios and Node's `fetch`
 * throw into `CernSsoError`s, for login, refresh, logout, the identity provider and the CLI alike.
 * The rules:
 * - no answer (refused, reset, DNS, TLS, timeout) and 5xx/429/408: an outage, 503 with
 *   `Retry-After` (the upstream's own, bounded, when it sent one); the log names the cause
 *   (`ECONNREFUSED`, `timeout`, `HTTP 503`) and the URL;
 * - `invalid_client`, or `unauthorized_client` (Keycloak's answer to a wrong client secret), at
 *   a token endpoint: the application's registration is wrong, 500 `ERR_IDP_MISCONFIGURED` naming
 *   `clientId`/`clientSecret` and the endpoint URL for the log;
 * - a 4xx that is not an OAuth error (404 page...): a wrong URL, `ERR_IDP_MISCONFIGURED`;
 * - other OAuth errors: in our own words (only known codes are named, upstream free text never
 *   reaches an answer).
 */
import { isAxiosError } from 'axios';
import * as client from 'openid-client';
import type { LogFields } from './logger.js';
import {
  CernSsoError,
  DEFAULT_RETRY_AFTER_SEC,
  MAX_RETRY_AFTER_SEC,
  idpMisconfigured,
  loginDenied,
  loginFailed,
  upstreamUnavailable,
} from './errors.js';
import { sanitizeUpstreamMessage } from './untrusted-text.js';

/** The message of every misconfiguration log line; `option` and `problem` say what to fix. */
export const MISCONFIGURED = 'sign-in is misconfigured';

/** How errors and log lines name Keycloak (the message may reach end users on a 503). */
export const LOGIN_SERVICE = 'The CERN login service';

/** An OAuth error answer of a token endpoint (RFC 6749 §5.2), with nothing secret in it. */
export interface OAuthRejection {
  /** HTTP status of the answer (4xx). */
  status: number;
  /** The OAuth `error` code, e.g. `invalid_grant`. */
  error: string;
  /** `error_description`, cleaned of anything token-like and shortened; may be empty. */
  description: string;
}

/** What went wrong with an upstream call, before it is given a library code. */
export type UpstreamFailure =
  /** The server is down or overloaded: answer 503 and retry soon. `cause` names why. */
  | { kind: 'outage'; cause: string; retryAfterSec?: number }
  /** An OAuth error body with a 4xx status. */
  | { kind: 'rejected'; rejection: OAuthRejection }
  /** The URL points at something that is not the expected server. `reason` names what. */
  | { kind: 'misconfigured'; reason: string }
  /** An answer that is not what the protocol says (not JSON, a claim that does not match). */
  | { kind: 'invalid'; code: string };

/** Statuses that mean "come back later", not "wrong address". */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * An upstream `Retry-After` in seconds, bounded to 1..{@link MAX_RETRY_AFTER_SEC}; the default
 * when absent or not a number of seconds (an HTTP date is not worth trusting a clock for).
 */
export function retryAfterOf(header: unknown): number {
  const seconds = retryAfterSeconds(header);
  if (seconds === undefined) return DEFAULT_RETRY_AFTER_SEC;
  return Math.min(MAX_RETRY_AFTER_SEC, Math.max(1, seconds));
}

/**
 * An upstream `Retry-After` in its delta-seconds form, unbounded; `undefined` when absent or an
 * HTTP date (which would need a trusted clock). The one parser of that header.
 */
export function retryAfterSeconds(header: unknown): number | undefined {
  const text = typeof header === 'string' ? header.trim() : '';
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function codeOf(value: unknown): string | undefined {
  const code = (value as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The OAuth `error` code as sent, when it is one (RFC 6749 §5.2: printable ASCII); else `invalid_request`. */
function oauthErrorCode(error: unknown): string {
  return typeof error === 'string' && /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(error)
    ? error
    : 'invalid_request';
}

/** The issuer a mismatching discovery document claimed, if it was a string (for the log only). */
function claimedIssuer(error: Error): string | undefined {
  const body = (error.cause as { body?: unknown } | undefined)?.body;
  const issuer = (body as { issuer?: unknown } | undefined)?.issuer;
  return typeof issuer === 'string' ? issuer : undefined;
}

/** A fetch `Response`, also undici's own class (the fetch used behind an HTTP proxy). */
function isResponse(value: unknown): value is Response {
  return value instanceof Response || Object.prototype.toString.call(value) === '[object Response]';
}

/** An HTTP answer the error carries (oauth4webapi keeps the `Response`, axios its response). */
function answerOf(error: Error): { status: number; retryAfter: unknown } | undefined {
  if (error instanceof client.ResponseBodyError || error instanceof client.WWWAuthenticateChallengeError) {
    return { status: error.status, retryAfter: error.response.headers.get('retry-after') };
  }
  if (isResponse(error.cause)) {
    return { status: error.cause.status, retryAfter: error.cause.headers.get('retry-after') };
  }
  if (isAxiosError(error) && error.response) {
    return { status: error.response.status, retryAfter: error.response.headers['retry-after'] };
  }
  return undefined;
}

/** The OAuth error of a 4xx answer, when it carries one. */
function rejectionOf(error: Error, status: number): OAuthRejection | undefined {
  if (error instanceof client.ResponseBodyError) {
    return {
      status,
      error: oauthErrorCode(error.error),
      description: sanitizeUpstreamMessage(error.error_description),
    };
  }
  if (error instanceof client.WWWAuthenticateChallengeError) {
    const parameters = error.cause[0]?.parameters;
    return {
      status,
      error: parameters?.error === undefined ? 'invalid_client' : oauthErrorCode(parameters.error),
      description: sanitizeUpstreamMessage(parameters?.error_description),
    };
  }
  return undefined;
}

/**
 * undici's fetch behind an HTTP proxy that refuses the CONNECT tunnel: the proxy's status is
 * only in the message of an error a few `cause`s down (fetch failed → cancelled → aborted).
 */
function proxyRefusal(error: Error): string | undefined {
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 4; depth++, cause = cause.cause) {
    const status = /^Proxy response \((\d{3})\) !== 200/.exec(cause.message)?.[1];
    if (status !== undefined) return `the HTTP proxy refused the tunnel (HTTP ${status})`;
  }
  return undefined;
}

/** Codes of answers that are not a valid protocol document (JSON, metadata, claims). */
const INVALID_ANSWER = /^(OAUTH_|ERR_JW)/;

/** Classifies any failure of an upstream call; anything unrecognised is an outage. */
export function classifyUpstreamFailure(error: unknown): UpstreamFailure {
  if (!(error instanceof Error)) return { kind: 'outage', cause: 'unknown error' };
  const code = codeOf(error);
  if (
    code === 'OAUTH_TIMEOUT' ||
    code === 'ECONNABORTED' ||
    code === 'ERR_JWKS_TIMEOUT' ||
    error.name === 'TimeoutError' ||
    error.name === 'AbortError' ||
    error.name === 'CanceledError'
  ) {
    return { kind: 'outage', cause: 'timeout' };
  }
  const answer = answerOf(error);
  if (answer !== undefined && (answer.status < 200 || answer.status > 299)) {
    const status = String(answer.status);
    if (isTransientStatus(answer.status)) {
      return { kind: 'outage', cause: `HTTP ${status}`, retryAfterSec: retryAfterOf(answer.retryAfter) };
    }
    const rejection = rejectionOf(error, answer.status);
    return rejection === undefined
      ? { kind: 'misconfigured', reason: `answered HTTP ${status}` }
      : { kind: 'rejected', rejection };
  }
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
    const claimed = claimedIssuer(error);
    return {
      kind: 'misconfigured',
      reason:
        claimed === undefined
          ? 'served a discovery document for another issuer'
          : `served a discovery document for another issuer (${claimed})`,
    };
  }
  // openid-client refuses plain http to anything but what the app allowed (loopback hosts).
  if (code === 'OAUTH_HTTP_REQUEST_FORBIDDEN')
    return { kind: 'misconfigured', reason: 'is not an https URL' };
  if (code !== undefined && INVALID_ANSWER.test(code)) return { kind: 'invalid', code };
  const refusedTunnel = proxyRefusal(error);
  if (refusedTunnel !== undefined) return { kind: 'outage', cause: refusedTunnel };
  // fetch() wraps socket and DNS errors: TypeError('fetch failed', { cause: { code } }).
  const causeCode = codeOf(error.cause);
  if (causeCode !== undefined) return { kind: 'outage', cause: causeCode };
  if (code !== undefined) return { kind: 'outage', cause: code };
  const causeMessage = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return { kind: 'outage', cause: `${error.name}${causeMessage}` };
}

/** A failed OpenID Provider discovery: an outage (retry soon) or a wrong `issuer` (fix it). */
export type DiscoveryFailure =
  { kind: 'outage'; cause: string; retryAfterSec?: number } | { kind: 'misconfigured'; reason: string };

/** {@link classifyUpstreamFailure} for discovery: anything but an outage means a wrong `issuer`. */
export function classifyDiscoveryFailure(error: unknown): DiscoveryFailure {
  const failure = classifyUpstreamFailure(error);
  switch (failure.kind) {
    case 'outage':
    case 'misconfigured':
      return failure;
    case 'rejected':
      return { kind: 'misconfigured', reason: `answered HTTP ${String(failure.rejection.status)}` };
    case 'invalid':
      return { kind: 'misconfigured', reason: 'did not serve a valid OpenID discovery document (JSON)' };
  }
}

/** An upstream call, as the mapper needs it to word its errors and log lines. */
export interface UpstreamCall {
  /** Who was called, named for a person: `The CERN login service`. */
  what: string;
  /** The URL called: in the log, never in an answer. */
  url?: string | undefined;
  /** What the library was doing, for messages: `Sign-in`, `Token refresh`. Default `what`. */
  action?: string;
  /** The code of an OAuth rejection not handled otherwise. Default `ERR_LOGIN_FAILED`. */
  code?: 'ERR_LOGIN_FAILED' | 'ERR_SESSION_EXPIRED';
  /** The option that sets the URL, named when it answers like something else (404). */
  urlOption?: string;
  /**
   * Tried first for OAuth rejections other than a refused client (a token exchange knows what
   * `unauthorized_client` means for an audience); `undefined` falls back to the defaults.
   */
  onRejected?: (rejection: OAuthRejection) => CernSsoError | undefined;
  /**
   * For an answer that is not a valid protocol document (not JSON...). Default: the sign-in
   * failed (`code`, 400); `bearerAuth()` answers 503 instead (its client did nothing wrong).
   */
  onInvalid?: (code: string) => CernSsoError;
  /** `Retry-After` of an outage when the upstream sent none (e.g. the caller's own retry delay). */
  retryAfterSec?: number;
}

/**
 * A cause for logs that keeps what the log needs (the URL, the cause code) and nothing else:
 * axios errors carry the request config, whose `Authorization` header holds a token.
 */
function safeCause(text: string, code?: string): Error {
  const cause = new Error(text);
  return code === undefined ? cause : Object.assign(cause, { code });
}

/** Keycloak answers a wrong client secret with 401 `unauthorized_client`, RFC 6749 with `invalid_client`. */
function refusesClient(rejection: OAuthRejection): boolean {
  return (
    rejection.error === 'invalid_client' ||
    (rejection.error === 'unauthorized_client' && rejection.status === 401)
  );
}

/** Known token endpoint error codes (RFC 6749 §5.2); anything else is an `unknown error`. */
const TOKEN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

/** A token endpoint error code if it is a known one, else `unknown error`. */
function tokenErrorCode(code: unknown): string {
  return typeof code === 'string' && TOKEN_ERRORS.has(code) ? code : 'unknown error';
}

/**
 * Error codes an OpenID Provider may send at the callback, each with our own sentence. Only these
 * are ever shown or logged as codes: anything else the provider (or whoever crafted the URL)
 * sends is an "unknown error", and `error_description` is never shown.
 */
const AUTHORIZATION_ERRORS = new Map<string, string>([
  // RFC 6749 §4.1.2.1
  ['invalid_request', 'the sign-in request was invalid'],
  ['unauthorized_client', 'this application may not sign users in this way'],
  ['access_denied', 'access was denied'],
  ['unsupported_response_type', 'the sign-in request type is not supported'],
  ['invalid_scope', 'the requested scope is invalid'],
  ['server_error', 'the login service had an internal error'],
  ['temporarily_unavailable', 'the login service is temporarily unavailable'],
  // OpenID Connect Core 1.0 §3.1.2.6
  ['interaction_required', 'the login service needs you to interact with it'],
  ['login_required', 'you need to sign in at the login service'],
  ['account_selection_required', 'you need to choose an account at the login service'],
  ['consent_required', 'you need to give your consent at the login service'],
  ['invalid_request_uri', 'the sign-in request URI was invalid'],
  ['invalid_request_object', 'the sign-in request object was invalid'],
  ['request_not_supported', 'the sign-in request object is not supported'],
  ['request_uri_not_supported', 'the sign-in request URI is not supported'],
  ['registration_not_supported', 'client registration is not supported'],
]);

/** Our sentence for an authorization error code (`?error=` on the callback). */
function authorizationErrorText(code: unknown): string {
  return (typeof code === 'string' ? AUTHORIZATION_ERRORS.get(code) : undefined) ?? 'unknown error';
}

function rejected(error: unknown, rejection: OAuthRejection, call: UpstreamCall): CernSsoError {
  const at = call.url === undefined ? call.what : `${call.what} (${call.url})`;
  const said = `HTTP ${String(rejection.status)} ${rejection.error}${rejection.description === '' ? '' : `: ${rejection.description}`}`;
  if (refusesClient(rejection)) {
    return idpMisconfigured(
      error,
      `clientSecret: ${at} refused the client credentials (${said}); ` +
        'check clientId and clientSecret against the CERN Application Portal',
    );
  }
  const custom = call.onRejected?.(rejection);
  if (custom !== undefined) return custom;
  if (rejection.error === 'unauthorized_client') {
    return idpMisconfigured(
      error,
      `clientId: ${at} does not allow this application this grant (${said}); ` +
        "check the application's settings in the CERN Application Portal",
    );
  }
  const action = call.action ?? call.what;
  const message =
    rejection.error === 'invalid_grant'
      ? `${action} failed: the authorization code or token is invalid, expired or was already used.`
      : `${action} failed: the CERN login service answered "${tokenErrorCode(rejection.error)}".`;
  return loginFailed(message, error, call.code);
}

/**
 * Maps any failure of an upstream call to a `CernSsoError` (see the module comment for the
 * rules). A `CernSsoError` passes through unchanged. Messages never contain a token, a secret
 * or upstream free text; what to fix is in `details` of a misconfiguration, for the log.
 */
export function mapUpstreamError(error: unknown, call: UpstreamCall): CernSsoError {
  if (error instanceof CernSsoError || error instanceof client.AuthorizationResponseError) {
    return mapFailure(error, call);
  }
  const failure = mapFailure(error, call);
  if (call.url !== undefined) failureUrls.set(failure, call.url);
  return failure;
}

/** The URL a mapped failure came from, for {@link failureLogFields} (errors carry no URL field). */
const failureUrls = new WeakMap<CernSsoError, string>();

function mapFailure(error: unknown, call: UpstreamCall): CernSsoError {
  if (error instanceof CernSsoError) return error;
  if (error instanceof client.AuthorizationResponseError) {
    if (error.error === 'access_denied') {
      return loginDenied('The sign-in was cancelled or access to this application was denied.', error);
    }
    return loginFailed(
      `The CERN login service refused the sign-in: ${authorizationErrorText(error.error)}.`,
      error,
      call.code,
    );
  }
  const where = call.url ?? call.what;
  const failure = classifyUpstreamFailure(error);
  switch (failure.kind) {
    case 'outage': {
      const cause = safeCause(`${where}: ${failure.cause}`, failure.cause);
      return upstreamUnavailable(call.what, cause, failure.retryAfterSec ?? call.retryAfterSec);
    }
    case 'rejected':
      return rejected(error, failure.rejection, call);
    case 'misconfigured':
      return idpMisconfigured(
        safeCause(`${where} ${failure.reason}`),
        `${call.urlOption ?? 'issuer'}: ${where} ${failure.reason}; check the URL`,
      );
    case 'invalid':
      if (call.onInvalid) return call.onInvalid(failure.code);
      return loginFailed(
        `${call.action ?? call.what} failed: the response of the CERN login service could not be validated.`,
        isAxiosError(error) ? safeCause(`${where}: ${failure.code}`, failure.code) : error,
        call.code,
      );
  }
}

/**
 * A misconfiguration's fix (`option: problem`, see `idpMisconfigured`) as log fields: `option`
 * (the option to fix) when the text names one, and `problem`.
 */
export function fixFields(fix: string): { option?: string; problem: string } {
  const named = /^([A-Za-z][\w.]*): ([\s\S]*)$/.exec(fix);
  return named?.[1] !== undefined && named[2] !== undefined
    ? { option: named[1], problem: named[2] }
    : { problem: fix };
}

/**
 * The log fields of a mapped failure: `err` (its cause, which names `ECONNREFUSED`, `timeout` or
 * the HTTP status), `code`, `url` (the upstream URL called, when known) and, for a
 * misconfiguration, `option` and `problem` (what to fix).
 */
export function failureLogFields(error: CernSsoError): LogFields {
  const url = failureUrls.get(error);
  const fields = { err: error.cause ?? error, code: error.code, ...(url === undefined ? {} : { url }) };
  const fix = error.code === 'ERR_IDP_MISCONFIGURED' ? error.details[0] : undefined;
  return fix === undefined ? fields : { ...fields, ...fixFields(fix) };
}

/**
 * Upstream free text (e.g. `error_description`) made fit for a log line: control characters
 * replaced, cut to `max` characters. Never for a response.
 */
export function upstreamTextForLog(text: unknown, max = 200): string {
  if (typeof text !== 'string') return '';
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const clean = text.slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return text.length > max ? `${clean}…` : clean;
}
