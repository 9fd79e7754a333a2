import {
  MISCONFIGURED,
  classifyUpstreamFailure,
  fixFields,
  isTransientStatus,
  retryAfterOf,
} from '../error-mapper.js';
import {
  MISCONFIGURED_RECHECK_MS,
  idpMisconfigured,
  upstreamUnavailable,
  type CernSsoError,
} from '../errors.js';
import { proxyTransport } from '../http/proxy-fetch.js';
import type { Logger } from '../logger.js';

/**
 * Keycloak never redirects back when it refuses a redirect URI (or does not know the client): it
 * shows its own 400 page, and the user is stuck there. The only way to tell is to ask: a
 * server-side GET of an authorization URL for the configured callback (never anything a client
 * sent), without following redirects. 2xx (its login page) or 3xx (back to the app): accepted;
 * 400: misconfigured; no answer, 5xx or 429: an outage.
 */
export interface RedirectCheckOptions {
  /** The redirect URI registered in the Application Portal (baseUrl + callback route). */
  callbackUrl: string;
  clientId: string;
  /** An authorization URL for `callbackUrl`, as a login would send it (fresh state, PKCE...). */
  authorizationUrl: () => Promise<URL>;
  httpTimeoutMs: number;
  logger: Logger;
  /** How long an outage is answered from memory before the next check. */
  retryDelayMs: number;
  now?: () => number;
}

export interface RedirectCheck {
  /**
   * Resolves when the redirect URI is accepted, rejects with 500 `ERR_IDP_MISCONFIGURED` when
   * Keycloak refuses it (or the client) and with 503 when Keycloak could not be asked. One check
   * per 30 s at most; while one is in flight, other requests do not wait for it (they go by the
   * last result, or on when there is none yet).
   */
  verify(): Promise<void>;
}

/** Longest part of the refusal page looked at. */
const MAX_PAGE = 65_536;

type Outcome =
  { kind: 'accepted' } | { kind: 'misconfigured' | 'outage'; error: (retryAfterSec: number) => CernSsoError };

export function createRedirectCheck(options: RedirectCheckOptions): RedirectCheck {
  // The proxy variables, read when cernSso() is made (as for every other call to Keycloak).
  const proxiedFetch = proxyTransport().fetch;
  const { logger, callbackUrl } = options;
  const now = options.now ?? (() => Date.now());
  let last: { at: number; outcome: Outcome } | undefined;
  let inFlight: Promise<void> | undefined;

  const holdMs = (outcome: Outcome): number =>
    outcome.kind === 'outage' ? options.retryDelayMs : MISCONFIGURED_RECHECK_MS;

  function misconfigured(fix: string, endpoint: string, status: number): Outcome {
    logger.error(
      {
        code: 'ERR_IDP_MISCONFIGURED',
        url: endpoint,
        status,
        ...fixFields(fix),
        recheckInMs: MISCONFIGURED_RECHECK_MS,
      },
      MISCONFIGURED,
    );
    return { kind: 'misconfigured', error: () => idpMisconfigured(undefined, fix) };
  }

  /** `error`: what fetch threw, for the log (the answer's cause names only the endpoint and why). */
  function outage(endpoint: string, cause: string, upstreamRetryAfter?: number, error?: unknown): Outcome {
    const failure = Object.assign(new Error(`${endpoint}: ${cause}`), { code: cause });
    logger.warn(
      { err: error ?? failure, reason: cause, url: endpoint, retryInMs: options.retryDelayMs },
      'checking the redirect URI failed; retrying',
    );
    return {
      kind: 'outage',
      error: (retryAfter) =>
        upstreamUnavailable('The CERN login service', failure, upstreamRetryAfter ?? retryAfter),
    };
  }

  /** What a 4xx page of the authorization endpoint says is wrong, as `option: what to fix`. */
  function refusal(status: number, page: string, endpoint: string): string {
    const answered = `${endpoint} answered HTTP ${String(status)}`;
    if (/client not found/i.test(page)) {
      return (
        `clientId: the CERN login service does not know the client "${options.clientId}" ` +
        `(${answered} "Client not found"); check clientId against the CERN Application Portal`
      );
    }
    if (/redirect_uri/i.test(page)) {
      return (
        `baseUrl: the CERN login service refuses the redirect URI ${callbackUrl} ` +
        `(${answered} "Invalid parameter: redirect_uri"); register exactly ${callbackUrl} as a ` +
        'redirect URI of the application in the CERN Application Portal, or fix baseUrl / routes.callback'
      );
    }
    return (
      `baseUrl: ${answered} to a sign-in request for the redirect URI ${callbackUrl}; check ` +
      'clientId, baseUrl and routes.callback against the CERN Application Portal'
    );
  }

  async function probe(url: URL): Promise<Outcome> {
    const endpoint = `${url.origin}${url.pathname}`;
    let response: Response;
    try {
      response = await proxiedFetch(url, {
        redirect: 'manual',
        headers: { accept: 'text/html', 'accept-language': 'en' },
        signal: AbortSignal.timeout(options.httpTimeoutMs),
      });
    } catch (error) {
      const failure = classifyUpstreamFailure(error);
      return outage(endpoint, failure.kind === 'outage' ? failure.cause : failure.kind, undefined, error);
    }
    const { status } = response;
    if (status < 400) {
      await response.body?.cancel();
      return { kind: 'accepted' };
    }
    if (isTransientStatus(status)) {
      await response.body?.cancel();
      return outage(endpoint, `HTTP ${String(status)}`, retryAfterOf(response.headers.get('retry-after')));
    }
    const page = (await response.text().catch(() => '')).slice(0, MAX_PAGE);
    return misconfigured(refusal(status, page, endpoint), endpoint, status);
  }

  /** Answers from the last outcome: resolves when accepted, else rejects with its error. */
  function answer(outcome: Outcome, remainingMs: number): Promise<void> {
    if (outcome.kind === 'accepted') return Promise.resolve();
    return Promise.reject(outcome.error(Math.max(1, Math.ceil(remainingMs / 1000))));
  }

  async function check(): Promise<void> {
    // Discovery failing rejects here with its own error: not an outcome of this check.
    const outcome = await probe(await options.authorizationUrl());
    last = { at: now(), outcome };
    return answer(outcome, holdMs(outcome));
  }

  return {
    verify() {
      if (last !== undefined) {
        const remainingMs = last.at + holdMs(last.outcome) - now();
        // Within the hold, or while a recheck is in flight: the last outcome answers.
        if (remainingMs > 0 || inFlight !== undefined) return answer(last.outcome, remainingMs);
      } else if (inFlight !== undefined) {
        // The first check is under way: only the request that started it waits for it.
        return Promise.resolve();
      }
      inFlight = check().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
