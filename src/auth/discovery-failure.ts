/**
 * Tells a misconfigured issuer (the app must be fixed) from an outage (Keycloak will come back)
 * when OpenID Provider discovery fails, from what openid-client v6 / oauth4webapi throw:
 * - a non-2xx answer: `ClientError` code `OAUTH_RESPONSE_IS_NOT_CONFORM`, `cause` the `Response`;
 * - not JSON: `OAUTH_RESPONSE_IS_NOT_JSON` (`cause` the `Response`); not a metadata object:
 *   `OAUTH_INVALID_RESPONSE` / `OAUTH_PARSE_ERROR`;
 * - a document for another issuer: `OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED`;
 * - a timeout: `OAUTH_TIMEOUT` (or a `TimeoutError` / `AbortError`);
 * - no connection: `TypeError('fetch failed')` whose `cause.code` is the Node/undici code.
 */
export type DiscoveryFailure =
  /** The provider is down or overloaded: answer 503 and retry soon. `cause` names why. */
  | { kind: 'outage'; cause: string }
  /** The issuer option points at something that is not this provider. `reason` names what. */
  | { kind: 'misconfigured'; reason: string };

/** Statuses that mean "come back later", not "wrong address". */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

function codeOf(value: unknown): string | undefined {
  const code = (value as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The issuer a mismatching document claimed, if it was a string (for the log only). */
function claimedIssuer(error: Error): string | undefined {
  const body = (error.cause as { body?: unknown } | undefined)?.body;
  const issuer = (body as { issuer?: unknown } | undefined)?.issuer;
  return typeof issuer === 'string' ? issuer : undefined;
}

const INVALID_DOCUMENT = new Set([
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_PARSE_ERROR',
]);

/** Classifies a discovery failure; anything unrecognised stays an outage (the old behaviour). */
export function classifyDiscoveryFailure(error: unknown): DiscoveryFailure {
  if (!(error instanceof Error)) return { kind: 'outage', cause: 'unknown error' };
  const code = codeOf(error);
  if (code === 'OAUTH_TIMEOUT' || error.name === 'TimeoutError' || error.name === 'AbortError') {
    return { kind: 'outage', cause: 'timeout' };
  }
  if (error.cause instanceof Response) {
    const status = error.cause.status;
    if (status < 200 || status > 299) {
      return isTransientStatus(status)
        ? { kind: 'outage', cause: `HTTP ${String(status)}` }
        : { kind: 'misconfigured', reason: `answered HTTP ${String(status)}` };
    }
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
  if (code !== undefined && INVALID_DOCUMENT.has(code)) {
    return { kind: 'misconfigured', reason: 'did not serve a valid OpenID discovery document (JSON)' };
  }
  // fetch() wraps socket and DNS errors: TypeError('fetch failed', { cause: { code } }).
  const causeCode = codeOf(error.cause);
  if (causeCode !== undefined) return { kind: 'outage', cause: causeCode };
  if (code !== undefined) return { kind: 'outage', cause: code };
  const causeMessage = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return { kind: 'outage', cause: `${error.name}${causeMessage}` };
}
