import { isAxiosError } from 'axios';
import { CernSsoError, DEFAULT_RETRY_AFTER_SEC, upstreamUnavailable } from '../errors.js';
import { sanitizeUpstreamMessage } from './token-endpoint-errors.js';

/** How errors name the API (the message may reach end users on a 503). */
export const AUTHZ_API = 'The CERN Authorization Service API';

/**
 * A cause for logs that keeps the error code and message only. Axios errors carry the request
 * config, whose `Authorization` header holds the API token: they must never be attached as-is.
 */
function safeCause(error: unknown): Error {
  if (isAxiosError(error)) {
    const cause = new Error(`${error.code ?? 'ERR_UNKNOWN'}: ${error.message}`);
    return Object.assign(cause, { code: error.code });
  }
  return error instanceof Error ? new Error(error.message) : new Error(String(error));
}

/**
 * A request that got no HTTP answer: refused or reset connection, DNS or TLS failure, timeout
 * or abort. Always an outage (503).
 */
export function noResponseError(error: unknown, resource: string): CernSsoError {
  const cause = safeCause(error);
  cause.message = `${resource}: ${cause.message}`;
  return upstreamUnavailable(AUTHZ_API, cause);
}

/** `Retry-After` of an upstream 503/429 when it is a sane number of seconds, else the default. */
function retryAfter(header: unknown): number {
  const seconds = typeof header === 'string' ? Number.parseInt(header, 10) : Number.NaN;
  return Number.isInteger(seconds) && seconds >= 1 && seconds <= 300 ? seconds : DEFAULT_RETRY_AFTER_SEC;
}

/** The API's own short explanation (`{ message }`), cleaned; empty when absent. */
function apiMessage(body: unknown): string {
  if (typeof body !== 'object' || body === null) return '';
  const record = body as Record<string, unknown>;
  return sanitizeUpstreamMessage(record.message ?? record.title ?? record.detail);
}

/**
 * Maps an unexpected HTTP status of the API (404 and 401-before-retry are handled by the
 * client) to a `CernSsoError`:
 * - 5xx, 429, 408 and unexpected 3xx (a proxy error page, a redirect we refuse to follow with a
 *   token): outage, 503 `ERR_UPSTREAM_UNAVAILABLE`;
 * - 401 (after a fresh token) and 403: the application is not allowed to use the API, a
 *   configuration problem: 500 `ERR_CONFIG`;
 * - other 4xx (e.g. a malformed filter): 400 `ERR_BAD_REQUEST` with the API's explanation.
 */
export function statusError(
  status: number,
  headers: Record<string, unknown>,
  body: unknown,
  resource: string,
): CernSsoError {
  const explanation = apiMessage(body);
  const detail = explanation === '' ? '' : `: ${explanation}`;
  if (status >= 500 || status === 429 || status === 408 || status < 400) {
    return upstreamUnavailable(
      AUTHZ_API,
      new Error(`${resource} answered HTTP ${status}${detail}`),
      retryAfter(headers['retry-after']),
    );
  }
  if (status === 401 || status === 403) {
    return new CernSsoError(
      'ERR_CONFIG',
      `${AUTHZ_API} refused the application's API token (HTTP ${status} on ${resource}${detail}); ` +
        'check that the application is allowed to use the Authorization Service API',
      { status: 500 },
    );
  }
  return new CernSsoError('ERR_BAD_REQUEST', `${AUTHZ_API} rejected ${resource} (HTTP ${status}${detail})`, {
    status: 400,
  });
}

/** A 2xx answer whose body is not what the API documents (e.g. an HTML page from a proxy). */
export function malformedResponseError(resource: string, problem: string): CernSsoError {
  return upstreamUnavailable(AUTHZ_API, new Error(`${resource}: unexpected response, ${problem}`));
}
