import * as client from 'openid-client';
import { isLoopbackHost } from '../config.js';
import { classifyDiscoveryFailure } from '../error-mapper.js';
import {
  MISCONFIGURED_RECHECK_MS,
  idpMisconfigured,
  upstreamUnavailable,
  type CernSsoError,
} from '../errors.js';
import type { Logger } from '../logger.js';

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
  /** The clock (ms since the epoch); tests inject one. Default `Date.now`. */
  now?: () => number;
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

export function createOidcDiscovery(options: DiscoveryOptions): OidcDiscovery {
  const issuerUrl = new URL(options.issuer);
  const retryDelayMs = options.retryDelayMs ?? 2000;
  const now = options.now ?? Date.now;
  const discoveryUrl = discoveryUrlOf(issuerUrl);
  const timeoutSec = Math.max(1, Math.ceil(options.httpTimeoutMs / 1000));
  const clientAuth =
    options.tokenEndpointAuthMethod === 'client_secret_post'
      ? client.ClientSecretPost(options.clientSecret)
      : client.ClientSecretBasic(options.clientSecret);
  const metadata: Partial<client.ClientMetadata> = {
    client_secret: options.clientSecret,
    [client.clockTolerance]: options.clockToleranceSec ?? 30,
  };

  let configuration: client.Configuration | undefined;
  let inFlight: Promise<client.Configuration> | undefined;
  let lastFailureAt = 0;
  /** How long the last failure is answered from memory, and the error it is answered with. */
  let lastFailure: { holdMs: number; error: (retryAfterSec: number) => CernSsoError } | undefined;

  /** Classifies, logs (naming the URL and the cause) and remembers a failed discovery. */
  function failed(error: unknown): CernSsoError {
    lastFailureAt = now();
    const failure = classifyDiscoveryFailure(error);
    if (failure.kind === 'misconfigured') {
      const fix =
        `issuer: ${options.issuer} ${failure.reason} at ${discoveryUrl}: ` +
        'check the `issuer` option (CERN: https://auth.cern.ch/auth/realms/cern)';
      options.logger.error(
        `sign-in is misconfigured: ${fix}; rechecked in ${String(MISCONFIGURED_RECHECK_MS / 1000)} s`,
      );
      lastFailure = { holdMs: MISCONFIGURED_RECHECK_MS, error: () => idpMisconfigured(error, fix) };
    } else {
      options.logger.warn(
        `OpenID Provider discovery at ${discoveryUrl} failed (${failure.cause}); ` +
          `retrying in ${String(retryDelayMs)} ms`,
      );
      lastFailure = {
        holdMs: retryDelayMs,
        error: (retryAfterSec) => upstreamUnavailable('The CERN login service', error, retryAfterSec),
      };
    }
    return lastFailure.error(Math.ceil(retryDelayMs / 1000) || 1);
  }

  async function discover(): Promise<client.Configuration> {
    // The config schema only lets plain http through for loopback issuers (the local emulator).
    const execute =
      issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname) ? [allowInsecureRequests] : [];
    try {
      const discovered = await client.discovery(issuerUrl, options.clientId, metadata, clientAuth, {
        execute,
        timeout: timeoutSec,
      });
      configuration = discovered;
      options.logger.info(`OpenID Provider discovered at ${options.issuer}`);
      return discovered;
    } catch (error) {
      throw failed(error);
    }
  }

  function get(): Promise<client.Configuration> {
    if (configuration) return Promise.resolve(configuration);
    if (inFlight) return inFlight;
    const sinceFailure = now() - lastFailureAt;
    if (lastFailure && sinceFailure < lastFailure.holdMs) {
      const retryAfter = Math.max(1, Math.ceil((retryDelayMs - sinceFailure) / 1000));
      return Promise.reject(lastFailure.error(retryAfter));
    }
    inFlight = discover().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  async function forTokenEndpoint(tokenEndpoint: string): Promise<client.Configuration> {
    const base = await get();
    const { issuer, jwks_uri } = base.serverMetadata();
    const server: client.ServerMetadata =
      jwks_uri === undefined
        ? { issuer, token_endpoint: tokenEndpoint }
        : { issuer, token_endpoint: tokenEndpoint, jwks_uri };
    const config = new client.Configuration(server, options.clientId, metadata, clientAuth);
    config.timeout = timeoutSec;
    allowHttpForLoopback(config, new URL(tokenEndpoint));
    return config;
  }

  return { get, forTokenEndpoint };
}
