import type * as client from 'openid-client';
import { createRemoteJWKSet, customFetch, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from '../config.js';
import { MISCONFIGURED } from '../error-mapper.js';
import { idpMisconfigured } from '../errors.js';
import { proxyTransport } from '../http/proxy-fetch.js';
import { describeError, type Logger } from '../logger.js';
import { sleep } from '../single-flight.js';
import {
  clientConfiguration,
  clockSkewSec,
  createOidcDiscovery,
  type DiscoveryOptions,
  type OidcDiscovery,
} from './discovery.js';

/**
 * One discovery and one JWKS cache per issuer for the whole process: a `cernSso()`, a
 * `createIdentityProvider()`, a `bearerAuth()` and back-channel logout for the same issuer share
 * them. The entry is made by the first of them that asks and keeps its settings (timeout, logger,
 * clock, JWKS cool-down). Entries are only ever made for configured issuers (never for an `iss`
 * a client sent), so the map is bounded by the app's configuration.
 */
interface IssuerEntry {
  /** The issuer's discovery; its client is never used, each client builds its own Configuration. */
  discovery: OidcDiscovery;
  keys: JWTVerifyGetKey | undefined;
}

/** What the first user of an issuer decides for everyone. */
export interface IssuerSettings {
  httpTimeoutMs: number;
  logger: Logger;
  /** The clock of the retry delays (ms since the epoch). Default `Date.now`. */
  now?: () => number;
}

/** Keys fetched this long ago are refetched in the background on use (removed keys stop verifying). */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

const entries = new Map<string, IssuerEntry>();

function entryOf(issuer: string, settings: IssuerSettings): IssuerEntry {
  let entry = entries.get(issuer);
  if (!entry) {
    const discovery = createOidcDiscovery({
      issuer,
      // Only the server metadata of this Configuration is used.
      clientId: 'express-cern-sso',
      clientSecret: 'unused',
      httpTimeoutMs: settings.httpTimeoutMs,
      logger: settings.logger,
      ...(settings.now ? { now: settings.now } : {}),
    });
    entry = { discovery, keys: undefined };
    entries.set(issuer, entry);
  }
  return entry;
}

/**
 * The discovery of `options.issuer` for the client of `options`: the metadata is the issuer's
 * shared discovery (one request per issuer and process, its failures classified and answered
 * as `createOidcDiscovery()` does), the Configuration this client's own. It is built again when
 * the injected clock moved away from real time (a test clock advanced), so that openid-client's
 * checks follow the clock.
 */
export function issuerDiscovery(discoveryOptions: DiscoveryOptions): OidcDiscovery {
  // The proxy variables are read when the client is made (cernSso(), bearerAuth()...).
  const options = { ...discoveryOptions, fetch: discoveryOptions.fetch ?? proxyTransport().fetch };
  const shared = entryOf(options.issuer, options).discovery;
  let own: { config: client.Configuration; skewSec: number } | undefined;
  return {
    async get() {
      const server = await shared.get();
      const skewSec = clockSkewSec(options.now);
      if (own?.skewSec !== skewSec) {
        own = { config: clientConfiguration(server.serverMetadata(), options), skewSec };
      }
      return own.config;
    },
    async forTokenEndpoint(tokenEndpoint) {
      const { issuer, jwks_uri } = (await shared.get()).serverMetadata();
      const server = jwks_uri === undefined ? { issuer } : { issuer, jwks_uri };
      return clientConfiguration(
        { ...server, token_endpoint: tokenEndpoint },
        options,
        new URL(tokenEndpoint),
      );
    },
  };
}

/** https, or plain http on a loopback host (the local emulator): the URLs keys may come from. */
function isAllowedEndpoint(value: string | undefined): value is string {
  if (value === undefined) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}

/** The issuer's keys could not be fetched (network, timeout, HTTP status, not a JWKS). */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
  constructor(
    readonly issuer: string,
    /** When a new attempt will be made. */
    readonly retryAfterSec: number,
    cause: unknown,
  ) {
    super(`the JWKS of ${issuer} is unavailable: ${describeError(cause)}`, { cause });
  }
}

type RemoteKeys = ReturnType<typeof createRemoteJWKSet>;

/**
 * jose's remote JWKS (fetch, parse, key selection by `kid`/`alg`/`use`/`key_ops`, import) with
 * the fetch policy here. jose's own is set to never refetch (infinite `cacheMaxAge` and
 * `cooldownDuration`): its cool-down refuses an unknown `kid` at once instead of waiting for the
 * refetch, it retries a failed fetch on every request, and once `cacheMaxAge` has passed every
 * request waits for (or fails with) a refetch, so a JWKS outage would stop the keys already known.
 * Here:
 * - the first use fetches; after a failed fetch, no new attempt for `cooldownMs`;
 * - an unknown `kid` refetches at most once per `cooldownMs`; inside the cool-down the request
 *   waits for the next allowed refetch, shared, so a freshly rotated key is accepted and a
 *   flood of forged `kid`s costs one request per cool-down;
 * - keys older than {@link JWKS_MAX_AGE_MS} are refetched in the background while the known
 *   ones keep verifying (an outage of the JWKS does not stop them).
 */
function remoteKeys(
  issuer: string,
  jwksUri: () => Promise<URL>,
  settings: IssuerSettings & { cooldownMs: number },
): JWTVerifyGetKey {
  const { cooldownMs, logger } = settings;
  const now = settings.now ?? (() => Date.now());
  const retryAfterSec = Math.max(1, Math.ceil(cooldownMs / 1000));
  let remote: RemoteKeys | undefined;
  // Read when the issuer's keys are first asked for (the first bearerAuth() or logout of it).
  const fetch = proxyTransport().fetch;
  let loadedAt = Number.NEGATIVE_INFINITY;
  let attemptAt = Number.NEGATIVE_INFINITY;
  let failure: unknown;
  let inFlight: Promise<RemoteKeys> | undefined;
  let scheduled: Promise<RemoteKeys> | undefined;

  async function fetchKeys(): Promise<RemoteKeys> {
    const url = await jwksUri();
    const keys = (remote ??= createRemoteJWKSet(url, {
      timeoutDuration: settings.httpTimeoutMs,
      cooldownDuration: Number.POSITIVE_INFINITY,
      cacheMaxAge: Number.POSITIVE_INFINITY,
      [customFetch]: fetch,
    }));
    attemptAt = now();
    try {
      await keys.reload();
      loadedAt = now();
      failure = undefined;
      return keys;
    } catch (error) {
      failure = error;
      logger.warn({ err: error, issuer, url: url.href }, 'JWKS unavailable');
      throw new JwksUnavailableError(issuer, retryAfterSec, error);
    }
  }

  /** One fetch at a time, shared by every caller. */
  function load(): Promise<RemoteKeys> {
    inFlight ??= fetchKeys().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  /** A refetch for an unknown key: the next one the cool-down allows, shared. */
  function refetch(): Promise<RemoteKeys> {
    if (inFlight) return inFlight;
    const wait = attemptAt + cooldownMs - now();
    if (wait <= 0) return load();
    scheduled ??= sleep(wait)
      .then(load)
      .finally(() => {
        scheduled = undefined;
      });
    return scheduled;
  }

  /** The keys as they are, or as soon as a first fetch succeeded. */
  function current(): Promise<RemoteKeys> {
    // Not remote.jwks(): it clones the whole set on every call.
    if (!remote || !Number.isFinite(loadedAt)) {
      if (!inFlight && failure !== undefined && now() - attemptAt < cooldownMs) {
        return Promise.reject(new JwksUnavailableError(issuer, retryAfterSec, failure));
      }
      return load();
    }
    if (now() - loadedAt > JWKS_MAX_AGE_MS && !inFlight && now() - attemptAt >= cooldownMs) {
      // Failures are logged; the keys we have keep verifying meanwhile.
      load().catch(() => undefined);
    }
    return Promise.resolve(remote);
  }

  return async (header, token) => {
    const keys = await current();
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      // Maybe the issuer rotated its keys: refetch (rate-limited, shared), then look again.
      return (await refetch())(header, token);
    }
  };
}

/**
 * The signing keys of `issuer` as a jose key function (for `jwtVerify`), shared by every user of
 * the issuer in the process. It rejects with jose's `JWKSNoMatchingKey` /
 * `JWKSMultipleMatchingKeys` for a key the issuer does not publish (or publishes twice), with a
 * {@link JwksUnavailableError} when the keys cannot be fetched, and with the discovery's
 * `CernSsoError` (503 outage, 500 misconfiguration) when the issuer cannot be discovered.
 * `cooldownMs`: an unknown `kid` refetches at most this often (the first user's value).
 */
export function issuerKeys(
  issuer: string,
  settings: IssuerSettings & { cooldownMs: number },
): JWTVerifyGetKey {
  const entry = entryOf(issuer, settings);
  entry.keys ??= remoteKeys(
    issuer,
    async () => {
      const { jwks_uri: uri } = (await entry.discovery.get()).serverMetadata();
      if (!isAllowedEndpoint(uri)) {
        const problem = `the discovery document of ${issuer} has no https jwks_uri (${String(uri)})`;
        settings.logger.error(
          { code: 'ERR_IDP_MISCONFIGURED', option: 'issuer', problem, issuer, url: String(uri) },
          MISCONFIGURED,
        );
        throw idpMisconfigured(new Error(problem));
      }
      return new URL(uri);
    },
    settings,
  );
  return entry.keys;
}
