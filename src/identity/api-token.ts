import { clientCredentialsGrant } from 'openid-client';
import type { OidcDiscovery } from '../auth/discovery.js';
import type { CachedLoader } from '../cache/cached-loader.js';
import { hashedCacheKey } from '../cache/keys.js';
import { AUTHZ_API_AUDIENCE } from '../config.js';
import { MISCONFIGURED, failureLogFields, mapUpstreamError } from '../error-mapper.js';
import { MISCONFIGURED_RECHECK_MS, idpMisconfigured, type CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createSingleFlight, type SingleFlight } from '../single-flight.js';
import { isCachedToken, usableUntil, type CachedToken } from './token-lifetime.js';
import { requireSearchValue } from './validation.js';

export interface ApiTokenSourceOptions {
  discovery: OidcDiscovery;
  issuer: string;
  clientId: string;
  /** Explicit API-access token endpoint; default derived from the discovered `token_endpoint`. */
  apiTokenEndpoint?: string | undefined;
  loader: CachedLoader;
  logger: Logger;
  /** Stop using a token this long before it expires. Default 30 000. */
  expiryMarginMs?: number;
  now?: () => number;
}

/**
 * Service tokens of this application from the API-access endpoint (client credentials grant),
 * one per audience; the default audience is the Authorization Service API.
 */
export interface ApiTokenSource {
  /**
   * A token for `audience` (default `authorization-service-api`) valid for at least the expiry
   * margin; fetched once per lifetime and audience, shared via the cache.
   */
  get(audience?: string): Promise<string>;
  /**
   * Drops the cached token of `audience` after an API rejected it (401). Pass the rejected token:
   * when another request already replaced it, nothing is dropped, so a burst of 401s causes one
   * new token.
   */
  invalidate(rejectedToken?: string, audience?: string): Promise<void>;
}

/** Most audiences kept in memory at once (the application names them, so a few in practice). */
const MAX_AUDIENCES = 64;

const WHAT = 'The CERN API-access token endpoint';

/**
 * Keycloak's API-access endpoint is not in discovery: it is the token endpoint with
 * `protocol/openid-connect` replaced by `api-access` (`{realm}/api-access/token`).
 */
export function deriveApiTokenEndpoint(tokenEndpoint: string | undefined, issuer: string): string {
  if (tokenEndpoint?.includes('/protocol/openid-connect/')) {
    return tokenEndpoint.replace('/protocol/openid-connect/', '/api-access/');
  }
  return `${issuer.replace(/\/+$/, '')}/api-access/token`;
}

/** Creates the {@link ApiTokenSource}: cached in the store, single flight per audience, in-process memo. */
export function createApiTokenSource(options: ApiTokenSourceOptions): ApiTokenSource {
  const { discovery, loader, logger } = options;
  const now = options.now ?? Date.now;
  const marginMs = options.expiryMarginMs ?? 30_000;

  async function endpoint(): Promise<string> {
    if (options.apiTokenEndpoint !== undefined) return options.apiTokenEndpoint;
    const config = await discovery.get();
    return deriveApiTokenEndpoint(config.serverMetadata().token_endpoint, options.issuer);
  }

  /** The token machinery of one audience. */
  function audienceSource(audience: string): AudienceSource {
    // Per issuer, client, endpoint and audience: apps sharing one Redis never share a token.
    const key = hashedCacheKey('api-token', {
      issuer: options.issuer,
      clientId: options.clientId,
      endpoint: options.apiTokenEndpoint ?? null,
      ...(audience === AUTHZ_API_AUDIENCE ? {} : { audience }),
    });
    const what =
      audience === AUTHZ_API_AUDIENCE ? 'Authorization Service API token' : `API token for "${audience}"`;
    // Refused client credentials are answered from memory until rechecked (they will not fix
    // themselves sooner), and logged once per check.
    let refused: { error: CernSsoError; at: number } | undefined;

    async function fetchToken(): Promise<CachedToken> {
      if (refused !== undefined && now() - refused.at < MISCONFIGURED_RECHECK_MS) throw refused.error;
      let url: string | undefined;
      try {
        url = await endpoint();
        const config = await discovery.forTokenEndpoint(url);
        const response = await clientCredentialsGrant(config, { audience });
        logger.debug({ audience }, `Obtained a new ${what}`);
        return {
          accessToken: response.access_token,
          usableUntil: usableUntil(now(), response.expires_in, marginMs),
        };
      } catch (error) {
        const failure = mapUpstreamError(error, {
          what: WHAT,
          url,
          ...(options.apiTokenEndpoint === undefined ? {} : { urlOption: 'apiTokenEndpoint' }),
          // Any other refusal of this grant is the application's registration too, not a bad request.
          onRejected: (rejection) =>
            idpMisconfigured(
              error,
              `clientId: ${WHAT} (${url ?? '?'}) refused the client credentials grant for audience ` +
                `"${audience}" (HTTP ${String(rejection.status)} ${rejection.error}` +
                `${rejection.description === '' ? '' : `: ${rejection.description}`}); ` +
                (audience === AUTHZ_API_AUDIENCE
                  ? 'check that the application may use the Authorization Service API'
                  : `check that the application may request tokens for "${audience}"`),
            ),
        });
        // Found here (discovery logs its own): logged once, answered from memory until rechecked.
        if (failure !== error && failure.code === 'ERR_IDP_MISCONFIGURED') {
          logger.error(failureLogFields(failure), MISCONFIGURED);
          refused = { error: failure, at: now() };
        }
        throw failure;
      }
    }

    // Kept in memory while usable: saves a store round trip (Redis) per API call.
    const token = createSingleFlight({
      run: () =>
        loader.get<CachedToken>({
          key,
          load: fetchToken,
          freshMs: (value) => value.usableUntil - now(),
          staleMs: 0, // an expired token is useless, even during an outage
          description: what,
          isValid: isCachedToken,
        }),
      keepMs: (value) => value.usableUntil - now(),
      now,
    });
    return { key, token };
  }

  const sources = new Map<string, AudienceSource>();
  function sourceOf(audience: string | undefined): AudienceSource {
    const name =
      audience === undefined ? AUTHZ_API_AUDIENCE : requireSearchValue('getApiToken', 'audience', audience);
    let source = sources.get(name);
    if (source === undefined) {
      // Oldest first out: a token dropped here is still in the cache store.
      const oldest = sources.keys().next();
      if (sources.size >= MAX_AUDIENCES && oldest.done !== true) sources.delete(oldest.value);
      source = audienceSource(name);
      sources.set(name, source);
    }
    return source;
  }

  return {
    async get(audience) {
      return (await sourceOf(audience).token.get()).accessToken;
    },

    async invalidate(rejectedToken, audience) {
      const { key, token } = sourceOf(audience);
      if (rejectedToken !== undefined && token.peek()?.accessToken !== rejectedToken) return;
      token.reset();
      await loader.delete(key);
    },
  };
}

interface AudienceSource {
  key: string;
  token: SingleFlight<CachedToken>;
}
