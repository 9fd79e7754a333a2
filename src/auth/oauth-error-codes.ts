/**
 * Error codes an OpenID Provider may send, each with our own sentence. Only these are ever shown
 * or logged as codes: anything else the provider (or whoever crafted the URL) sends is an
 * "unknown error", and `error_description` is never shown.
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

/** Token endpoint errors, RFC 6749 §5.2 (the provider answering the server, not the browser). */
const TOKEN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
]);

/** Our sentence for an authorization error code (`?error=` on the callback). */
export function authorizationErrorText(code: unknown): string {
  return (typeof code === 'string' ? AUTHORIZATION_ERRORS.get(code) : undefined) ?? 'unknown error';
}

/** A token endpoint error code if it is a known one, else `unknown error`. */
export function tokenErrorCode(code: unknown): string {
  return typeof code === 'string' && TOKEN_ERRORS.has(code) ? code : 'unknown error';
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
