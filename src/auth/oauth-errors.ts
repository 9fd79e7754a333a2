import * as client from 'openid-client';
import { CernSsoError, upstreamUnavailable, type CernSsoErrorCode } from '../errors.js';
import { authorizationErrorText, tokenErrorCode } from './oauth-error-codes.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/** True for refused/reset connections, DNS failures and timeouts: the server is unreachable. */
export function isNetworkFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  const code = (error as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || (typeof code === 'string' && NETWORK_CODES.has(code))) return true;
  // fetch() wraps socket errors: TypeError('fetch failed', { cause }).
  return error.cause !== undefined && error.cause !== error && isNetworkFailure(error.cause);
}

/** HTTP status of a non-conforming response (e.g. an HTML 502 page from a proxy), if any. */
function responseStatus(error: unknown): number | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Response) return cause.status;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

/** True when the error means "the OpenID Provider is down", as opposed to "it said no". */
export function isUpstreamOutage(error: unknown): boolean {
  if (isNetworkFailure(error)) return true;
  const status = responseStatus(error);
  return status !== undefined && status >= 500;
}

/**
 * Maps an openid-client failure during an OAuth exchange to a `CernSsoError` with a message a
 * person understands. Only known OAuth error codes are named, in our own words; free text from
 * the provider or the URL (`error_description`) never reaches the message; tokens never do.
 */
export function oauthFailure(
  error: unknown,
  what: string,
  code: CernSsoErrorCode = 'ERR_LOGIN_FAILED',
): CernSsoError {
  if (error instanceof CernSsoError) return error;
  if (isUpstreamOutage(error)) return upstreamUnavailable('The CERN login service', error);
  if (error instanceof client.AuthorizationResponseError) {
    const denied = error.error === 'access_denied';
    return new CernSsoError(
      denied ? 'ERR_LOGIN_DENIED' : code,
      denied
        ? 'The sign-in was cancelled or access to this application was denied.'
        : `The CERN login service refused the sign-in: ${authorizationErrorText(error.error)}.`,
      { status: denied ? 403 : 400, cause: error },
    );
  }
  if (error instanceof client.ResponseBodyError) {
    const message =
      error.error === 'invalid_grant'
        ? `${what} failed: the authorization code or token is invalid, expired or was already used.`
        : `${what} failed: the CERN login service answered "${tokenErrorCode(error.error)}".`;
    return new CernSsoError(code, message, { status: 400, cause: error });
  }
  return new CernSsoError(
    code,
    `${what} failed: the response of the CERN login service could not be validated.`,
    {
      status: 400,
      cause: error,
    },
  );
}
