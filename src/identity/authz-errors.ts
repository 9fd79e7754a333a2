import { isTransientStatus, mapUpstreamError, retryAfterOf } from '../error-mapper.js';
import { badRequest, configError, upstreamUnavailable, type CernSsoError } from '../errors.js';
import { sanitizeUpstreamMessage } from '../untrusted-text.js';

/** How errors name the API (the message may reach end users on a 503). */
export const AUTHZ_API = 'The CERN Authorization Service API';

/**
 * A request that got no HTTP answer: refused or reset connection, DNS or TLS failure, timeout
 * or abort. Always an outage (503); the cause names the resource and why, never the request
 * (axios errors carry the `Authorization` header).
 */
export function noResponseError(error: unknown, resource: string): CernSsoError {
  return mapUpstreamError(error, { what: AUTHZ_API, url: resource });
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
  if (isTransientStatus(status) || status < 400) {
    return upstreamUnavailable(
      AUTHZ_API,
      new Error(`${resource} answered HTTP ${status}${detail}`),
      retryAfterOf(headers['retry-after']),
    );
  }
  if (status === 401 || status === 403) {
    return configError(
      `${AUTHZ_API} refused the application's API token (HTTP ${status} on ${resource}${detail}); ` +
        'check that the application is allowed to use the Authorization Service API',
    );
  }
  return badRequest(undefined, `${AUTHZ_API} rejected ${resource} (HTTP ${status}${detail})`);
}

/** A 2xx answer whose body is not what the API documents (e.g. an HTML page from a proxy). */
export function malformedResponseError(resource: string, problem: string): CernSsoError {
  return upstreamUnavailable(AUTHZ_API, new Error(`${resource}: unexpected response, ${problem}`));
}
