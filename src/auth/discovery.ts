import * as client from 'openid-client';
import { isLoopbackHost } from '../config.js';
import { MISCONFIGURED, classifyDiscoveryFailure, fixFields } from '../error-mapper.js';
import { MISCONFIGURED_RECHECK_MS, CernSsoError, idpMisconfigured, upstreamUnavailable } from '../errors.js';
import { proxyTransport, type HttpFetch } from '../http/proxy-fetch.js';
import type { Logger } from '../logger.js';
import { createSingleFlight } from '../single-flight.js';

export interface DiscoveryOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  httpTimeoutMs: number;
  clockToleranceSec?: number;
  logger: Logger;
  /** After a failed discovery, callers get 503 without a new attempt for this long. Default 2000. */
  retryDelayMs?: number;
  /**
   * The clock (ms since the epoch); tests inject one. Default `Date.now`. It also dates
   * openid-client's checks of ID tokens (`iat`, `exp`): see {@link clockSkewSec}.
   */
  now?: () => number;
  /** The `fetch` of every request (proxy variables). Default: read from the environment now. */
  fetch?: HttpFetch;
}

/**
 * openid-client reads `Date.now()` for its ID token checks and takes no current date, only a
 * fixed `clockSkew` per Configuration: the injected clock's distance from real time, in whole
 * seconds (0 without a clock, or under fake timers, which move `Date.now()` itself).
 */
export function clockSkewSec(now: (() => number) | undefined): number {
  return now === undefined ? 0 : Math.round((now() - Date.now()) / 1000);
}

/** Where openid-client looks for the document (`<issuer>/.well-known/openid-configuration`). */
function discoveryUrlOf(issuer: URL): string {
  const url = new URL(issuer.href);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/.well-known/openid-configuration`;
  return url.href;
}

/** Lazily discovered, shared OpenID Provider configuration. */
export interface OidcDiscovery {
  /**
   * The discovered configuration. Discovery runs on first use, concurrent callers share one
   * request. An outage rejects with a 503 `CernSsoError` and is retried on a later call (never
   * sooner than `retryDelayMs`), so the app starts and recovers while Keycloak is down. A
   * misconfigured issuer (4xx, not a discovery document, another issuer) rejects with a 500
   * `ERR_IDP_MISCONFIGURED`, logged as an error, and is rechecked at most every 30 s.
   */
  get(): Promise<client.Configuration>;
  /** A hand-built configuration for another token endpoint (e.g. Keycloak's `api-access`). */
  forTokenEndpoint(tokenEndpoint: string): Promise<client.Configuration>;
}

// allowInsecureRequests is "deprecated" only to make it stand out; here it is used solely for
// loopback hosts (the local emulator and tests).
// eslint-disable-next-line @typescript-eslint/no-deprecated
const allowInsecureRequests: (config: client.Configuration) => void = client.allowInsecureRequests;

/** Applies the loopback-only http rule to a Configuration built by openid-client. */
function allowHttpForLoopback(config: client.Configuration, url: URL): void {
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) allowInsecureRequests(config);
}

/** openid-client's timeout is in whole seconds (at least one). */
function timeoutSecOf(options: DiscoveryOptions): number {
  return Math.max(1, Math.ceil(options.httpTimeoutMs / 1000));
}

/** The client metadata and authentication method of `options`, for any Configuration of it. */
function clientAuthentication(options: DiscoveryOptions): {
  metadata: Partial<client.ClientMetadata>;
  clientAuth: client.ClientAuth;
} {
  return {
    metadata: {
      client_secret: options.clientSecret,
      [client.clockTolerance]: options.clockToleranceSec ?? 30,
    },
    clientAuth:
      options.tokenEndpointAuthMethod === 'client_secret_post'
        ? client.ClientSecretPost(options.clientSecret)
        : client.ClientSecretBasic(options.clientSecret),
  };
}

export function createOidcDiscovery(options: DiscoveryOptions): OidcDiscovery {
  const issuerUrl = new URL(options.issuer);
  const retryDelayMs = options.retryDelayMs ?? 2000;
  const discoveryUrl = discoveryUrlOf(issuerUrl);
  const timeoutSec = timeoutSecOf(options);
  const { metadata, clientAuth } = clientAuthentication(options);
  // The proxy variables are read once, here: every Configuration of this discovery uses them.
  const fetch = options.fetch ?? proxyTransport().fetch;

  /** Classifies and logs (naming the URL and the cause) a failed discovery. */
  function failed(error: unknown): CernSsoError {
    const failure = classifyDiscoveryFailure(error);
    if (failure.kind === 'misconfigured') {
      const fix =
        `issuer: ${options.issuer} ${failure.reason} at ${discoveryUrl}: ` +
        'check the `issuer` option (CERN: https://auth.cern.ch/auth/realms/cern)';
      options.logger.error(
        {
          err: error,
          code: 'ERR_IDP_MISCONFIGURED',
          url: discoveryUrl,
          ...fixFields(fix),
          recheckInMs: MISCONFIGURED_RECHECK_MS,
        },
        MISCONFIGURED,
      );
      return idpMisconfigured(error, fix);
    }
    options.logger.warn(
      { err: error, reason: failure.cause, url: discoveryUrl, retryInMs: retryDelayMs },
      'OpenID Provider discovery failed; retrying',
    );
    return upstreamUnavailable('The CERN login service', error);
  }

  async function discover(): Promise<client.Configuration> {
    // The config schema only lets plain http through for loopback issuers (the local emulator).
    const execute =
      issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname) ? [allowInsecureRequests] : [];
    try {
      const discovered = await client.discovery(issuerUrl, options.clientId, metadata, clientAuth, {
        execute,
        timeout: timeoutSec,
        [client.customFetch]: fetch,
      });
      options.logger.info({ issuer: options.issuer }, 'OpenID Provider discovered');
      return discovered;
    } catch (error) {
      throw failed(error);
    }
  }

  const isMisconfigured = (error: unknown): boolean =>
    error instanceof CernSsoError && error.code === 'ERR_IDP_MISCONFIGURED';
  /** An outage answers with the time left until the next attempt as its `Retry-After`. */
  function answer(error: unknown, retryInMs: number): unknown {
    if (!(error instanceof CernSsoError) || error.code !== 'ERR_UPSTREAM_UNAVAILABLE') return error;
    const retryAfterSec = Math.max(1, Math.ceil(retryInMs / 1000));
    return upstreamUnavailable('The CERN login service', error.cause, retryAfterSec);
  }
  // Kept for ever once discovered; a failure is answered from memory until its recheck.
  const configuration = createSingleFlight({
    run: discover,
    holdMs: (error) => (isMisconfigured(error) ? MISCONFIGURED_RECHECK_MS : retryDelayMs),
    failure: answer,
    now: options.now,
  });
  const get = (): Promise<client.Configuration> => configuration.get();

  async function forTokenEndpoint(tokenEndpoint: string): Promise<client.Configuration> {
    const { issuer, jwks_uri } = (await get()).serverMetadata();
    const server: client.ServerMetadata =
      jwks_uri === undefined
        ? { issuer, token_endpoint: tokenEndpoint }
        : { issuer, token_endpoint: tokenEndpoint, jwks_uri };
    return clientConfiguration(server, { ...options, fetch }, new URL(tokenEndpoint));
  }

  return { get, forTokenEndpoint };
}

/**
 * A Configuration for the client of `options` at a server whose metadata is already known (no
 * request): how the issuer registry gives each client its own Configuration of one discovery.
 * `endpoint` is the URL whose scheme decides the loopback-only http rule (default the issuer).
 */
export function clientConfiguration(
  server: client.ServerMetadata,
  options: DiscoveryOptions,
  endpoint: URL = new URL(server.issuer),
): client.Configuration {
  const { metadata, clientAuth } = clientAuthentication(options);
  // The injected clock's distance from real time, at the time this Configuration is built.
  metadata[client.clockSkew] = clockSkewSec(options.now);
  const config = new client.Configuration(server, options.clientId, metadata, clientAuth);
  config.timeout = timeoutSecOf(options);
  config[client.customFetch] = options.fetch ?? proxyTransport().fetch;
  allowHttpForLoopback(config, endpoint);
  return config;
}
