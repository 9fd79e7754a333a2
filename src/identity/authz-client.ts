import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosResponse, type CreateAxiosDefaults } from 'axios';
import { proxyTransport } from '../http/proxy-fetch.js';
import type { Logger } from '../logger.js';
import type { ApiTokenSource } from './api-token.js';
import { CernSsoError } from '../errors.js';
import { malformedResponseError, noResponseError, statusError } from './authz-errors.js';
import { withPageRetry, type PageAttempt, type PageRetryPolicy } from './page-retry.js';

/** Query parameters in order; repeated names (`filter`, `field`) are repeated pairs. */
export type QueryParams = readonly (readonly [string, string])[];

/** One page of a list resource. */
export interface AuthzPage {
  rows: unknown[];
  /** `pagination.total` when the API gave it. */
  total: number | undefined;
  /** True when there is no further page: the rows seen so far are every match. */
  last: boolean;
  /** The next page's path and query on the API host (a resume cursor); undefined on the last page. */
  next: string | undefined;
}

export interface PageOptions {
  /** `limit` sent with the first request. Default 1000. */
  pageSize?: number;
  /** Timeout of each page request. Default the client's `listTimeoutMs`. */
  timeoutMs?: number;
  /** Start at this page (a validated cursor on the API origin) instead of the first. */
  start?: URL;
  /** Retry a page that failed with an outage. Default: no retry. */
  retry?: PageRetryPolicy;
}

export interface AuthzClientOptions {
  /** `authzApiUrl`, without trailing slash; resources live under `/api/v1.0`. */
  baseUrl: string;
  tokens: ApiTokenSource;
  /** Timeout of single-resource requests, in ms. */
  timeoutMs: number;
  /** Timeout of each page of a list or search. Default `timeoutMs`. */
  listTimeoutMs?: number;
  logger: Logger;
}

/** Low-level client of the CERN Authorization Service API (`/api/v1.0`). */
export interface AuthzClient {
  /** `data` of a single resource (`path` relative to `/api/v1.0`), or `null` when it is a 404. */
  getData(path: string, query?: QueryParams): Promise<unknown>;
  /**
   * The pages of a list resource, following `pagination.next` (on the API's origin only) or,
   * without it, `pagination.token`. A 404 on the first page yields nothing.
   */
  pages(path: string, query: QueryParams, options?: PageOptions): AsyncGenerator<AuthzPage, void, undefined>;
  /** The URL of a list resource (`path` relative to `/api/v1.0`), e.g. to check a cursor against. */
  listUrl(path: string): URL;
  /** Closes kept-alive sockets. */
  close(): void;
}

const API_PREFIX = '/api/v1.0';
const DEFAULT_PAGE_SIZE = 1000;
/** Far above any real answer (a 1000-row page is about 1 MB); bounds memory on a runaway response. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** One path segment: `encodeURIComponent`, so a `/` in an eduGAIN login is sent as `%2F`. */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

interface ParsedPage {
  rows: unknown[];
  total: number | undefined;
  next: string | undefined;
  token: string | undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Creates an {@link AuthzClient} with keep-alive connections and a timeout on every call. */
export function createAuthzClient(options: AuthzClientOptions): AuthzClient {
  const { tokens, logger } = options;
  const base = new URL(`${options.baseUrl}${API_PREFIX}`);
  const origin = base.origin;
  const listTimeoutMs = options.listTimeoutMs ?? options.timeoutMs;
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 32 });
  // Proxy variables, read now: axios never reads them itself (proxy: false). When one is set, it
  // goes through the same fetch as the calls to Keycloak, so one NO_PROXY decision covers both
  // (and https targets get the CONNECT tunnel axios' own proxy support lacks).
  const transport = proxyTransport();
  const http = axios.create({
    httpAgent,
    httpsAgent,
    proxy: false,
    ...(transport.proxied
      ? {
          adapter: 'fetch' as const,
          // axios types its env a little narrower than the DOM's; these are the fetch API classes.
          env: {
            fetch: transport.fetch,
            Request: transport.Request,
            Response: transport.Response,
          } as NonNullable<CreateAxiosDefaults['env']>,
        }
      : {}),
    // A redirect would carry the bearer token elsewhere; the API never redirects.
    maxRedirects: 0,
    maxContentLength: MAX_RESPONSE_BYTES,
    responseType: 'json',
    // Every status is handled here, so axios only throws when there is no answer at all.
    validateStatus: () => true,
  });

  function resourceUrl(path: string, query: QueryParams): URL {
    const url = new URL(`${base.href}${path}`);
    for (const [name, value] of query) url.searchParams.append(name, value);
    return url;
  }

  /** GET with the API token; a 401 drops the token and retries once with a new one. */
  async function send(url: URL, timeoutMs: number): Promise<AxiosResponse<unknown>> {
    const resource = `GET ${url.pathname}`;
    for (let attempt = 1; ; attempt++) {
      const token = await tokens.get();
      // Real elapsed time for the debug log, not an expiry: not the injected clock (a test clock
      // standing still would report 0 ms).
      const started = Date.now();
      let response: AxiosResponse<unknown>;
      try {
        response = await http.get<unknown>(url.href, {
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
          timeout: timeoutMs,
          // axios' timeout is per socket inactivity; the signal bounds the whole call.
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        logger.debug(
          { err: error, method: 'GET', path: url.pathname, durationMs: Date.now() - started },
          'Authorization Service API call failed',
        );
        throw noResponseError(error, resource);
      }
      logger.debug(
        { method: 'GET', path: url.pathname, status: response.status, durationMs: Date.now() - started },
        'Authorization Service API call',
      );
      if (response.status !== 401 || attempt > 1) return response;
      logger.info(
        { method: 'GET', path: url.pathname, status: 401 },
        'Authorization Service API answered 401: renewing its token and retrying once',
      );
      await tokens.invalidate(token);
    }
  }

  /** `send`, retried on outages when a policy is given (for sync-job listings). */
  async function sendPage(url: URL, timeoutMs: number, retry: PageRetryPolicy | undefined) {
    if (retry === undefined) return send(url, timeoutMs);
    return withPageRetry(async (): Promise<PageAttempt<AxiosResponse<unknown>>> => {
      try {
        const response = await send(url, timeoutMs);
        return {
          kind: 'answer',
          status: response.status,
          retryAfter: response.headers['retry-after'],
          response,
        };
      } catch (error) {
        // No answer, or the API token could not be had because Keycloak is down: an outage.
        if (error instanceof CernSsoError && error.code === 'ERR_UPSTREAM_UNAVAILABLE') {
          logger.warn(
            { method: 'GET', path: url.pathname },
            'Authorization Service API page failed; retrying',
          );
          return { kind: 'no-answer', error };
        }
        throw error;
      }
    }, retry);
  }

  function parsePage(body: unknown, resource: string): ParsedPage {
    if (typeof body !== 'object' || body === null) throw malformedResponseError(resource, 'no JSON body');
    const { data, pagination } = body as { data?: unknown; pagination?: unknown };
    if (data !== null && data !== undefined && !Array.isArray(data)) {
      throw malformedResponseError(resource, '"data" is not a list');
    }
    const info =
      typeof pagination === 'object' && pagination !== null ? (pagination as Record<string, unknown>) : {};
    return {
      rows: data ?? [],
      total: typeof info.total === 'number' && Number.isFinite(info.total) ? info.total : undefined,
      next: nonEmptyString(info.next),
      token: nonEmptyString(info.token),
    };
  }

  /** The next page's URL, or undefined at the end. Never a URL outside the API's origin. */
  function nextPageUrl(
    page: ParsedPage,
    current: URL,
    path: string,
    query: QueryParams,
    fetched: number,
  ): URL | undefined {
    if (page.next !== undefined) {
      let next: URL;
      try {
        next = new URL(page.next, current);
      } catch {
        throw malformedResponseError(`GET ${current.pathname}`, 'invalid pagination.next');
      }
      if (next.origin !== origin) {
        logger.error(
          { method: 'GET', path: current.pathname, origin: next.origin, expectedOrigin: origin },
          'Refusing to follow a pagination link to another origin',
        );
        throw malformedResponseError(`GET ${current.pathname}`, 'pagination.next leaves the API origin');
      }
      return next;
    }
    // `token` fallback: re-send the original query with the token. Stop on an empty page or
    // once `total` rows arrived, in case the API hands out a token on its last page.
    if (page.token === undefined || page.rows.length === 0) return undefined;
    if (page.total !== undefined && fetched >= page.total) return undefined;
    return resourceUrl(path, [...query.filter(([name]) => name !== 'token'), ['token', page.token]]);
  }

  return {
    async getData(path, query = []) {
      const url = resourceUrl(path, query);
      const resource = `GET ${url.pathname}`;
      const response = await send(url, options.timeoutMs);
      if (response.status === 404) return null;
      if (response.status < 200 || response.status >= 300) {
        throw statusError(response.status, response.headers, response.data, resource);
      }
      const body = response.data;
      if (typeof body !== 'object' || body === null || !('data' in body)) {
        throw malformedResponseError(resource, 'no "data" in the body');
      }
      return body.data;
    },

    async *pages(path, query, pageOptions = {}) {
      const timeoutMs = pageOptions.timeoutMs ?? listTimeoutMs;
      const firstQuery: QueryParams =
        pageOptions.start === undefined
          ? [...query, ['limit', String(pageOptions.pageSize ?? DEFAULT_PAGE_SIZE)]]
          : [...pageOptions.start.searchParams];
      let url = pageOptions.start ?? resourceUrl(path, firstQuery);
      const seen = new Set<string>();
      let fetched = 0;
      for (let first = true; ; first = false) {
        seen.add(url.href);
        const resource = `GET ${url.pathname}`;
        const response = await sendPage(url, timeoutMs, pageOptions.retry);
        if (response.status === 404 && first) return;
        if (response.status < 200 || response.status >= 300) {
          throw statusError(response.status, response.headers, response.data, resource);
        }
        const page = parsePage(response.data, resource);
        fetched += page.rows.length;
        const next = nextPageUrl(page, url, path, firstQuery, fetched);
        if (next !== undefined && seen.has(next.href)) {
          throw malformedResponseError(resource, 'pagination loops back to a page already read');
        }
        yield {
          rows: page.rows,
          total: page.total,
          last: next === undefined,
          next: next === undefined ? undefined : `${next.pathname}${next.search}`,
        };
        if (next === undefined) return;
        url = next;
      }
    },

    listUrl(path) {
      return resourceUrl(path, []);
    },

    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
