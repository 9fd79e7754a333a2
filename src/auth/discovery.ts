import * as client from 'openid-client';
import { isLoopbackHost } from '../config.js';
import { upstreamUnavailable } from '../errors.js';
import { describeError, type Logger } from '../logger.js';

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
}

/** Lazily discovered, shared OpenID Provider configuration. */
export interface OidcDiscovery {
  /**
   * The discovered configuration. Discovery runs on first use, concurrent callers share one
   * request, and a failure rejects with a 503 `CernSsoError` and is retried on a later call
   * (never sooner than `retryDelayMs`), so the app starts and recovers while Keycloak is down.
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
  let lastError: unknown;

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
      lastFailureAt = Date.now();
      lastError = error;
      options.logger.warn(`OpenID Provider discovery at ${options.issuer} failed: ${describeError(error)}`);
      throw upstreamUnavailable('The CERN login service', error, Math.ceil(retryDelayMs / 1000) || 1);
    }
  }

  function get(): Promise<client.Configuration> {
    if (configuration) return Promise.resolve(configuration);
    if (inFlight) return inFlight;
    const sinceFailure = Date.now() - lastFailureAt;
    if (sinceFailure < retryDelayMs) {
      const retryAfter = Math.max(1, Math.ceil((retryDelayMs - sinceFailure) / 1000));
      return Promise.reject(upstreamUnavailable('The CERN login service', lastError, retryAfter));
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
