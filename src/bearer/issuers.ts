import { describeError, type Logger } from '../logger.js';
import { issuerUnavailable } from './errors.js';
import { fetchJson, isAllowedEndpoint, jsonObject, UnexpectedAnswerError } from './http.js';
import { createJwksCache, type JwksCache } from './jwks.js';

/** After a failed discovery, requests get 503 without a new attempt for this long. */
export const DISCOVERY_RETRY_MS = 2000;

/** What `bearerAuth()` needs from an issuer's OpenID Provider metadata. */
export interface IssuerMetadata {
  issuer: string;
  jwksUri: string;
  introspectionEndpoint: string | undefined;
}

/** One trusted issuer: its metadata (discovered lazily) and its JWKS. */
export interface TrustedIssuer {
  readonly issuer: string;
  /**
   * The discovered metadata. Discovery runs on first use, concurrent callers share one request,
   * and a failure rejects with a 503 and is retried on a later call (not within
   * {@link DISCOVERY_RETRY_MS}).
   */
  metadata(): Promise<IssuerMetadata>;
  readonly jwks: JwksCache;
}

/** The trusted issuers of one `bearerAuth()`. */
export interface IssuerRegistry {
  /** The trusted issuer whose identifier is exactly `iss`, or `undefined`. Never does I/O. */
  find(iss: string): TrustedIssuer | undefined;
  /** The first configured issuer (where opaque tokens are introspected). */
  readonly primary: TrustedIssuer;
}

export interface IssuerRegistryOptions {
  issuers: readonly string[];
  httpTimeoutMs: number;
  jwksCooldownMs: number;
  logger: Logger;
  now?: () => number;
}

function parseMetadata(issuer: string, url: string, body: unknown): IssuerMetadata {
  const doc = jsonObject(body);
  if (!doc) throw new UnexpectedAnswerError(url, 200, 'not a JSON object');
  if (doc.issuer !== issuer) {
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    throw new UnexpectedAnswerError(
      url,
      200,
      `the document names issuer ${JSON.stringify(doc.issuer)} instead of ${issuer}`,
    );
  }
  if (!isAllowedEndpoint(doc.jwks_uri)) {
    throw new UnexpectedAnswerError(url, 200, 'jwks_uri is missing or not an https URL');
  }
  const introspection = doc.introspection_endpoint;
  return {
    issuer,
    jwksUri: doc.jwks_uri,
    introspectionEndpoint: isAllowedEndpoint(introspection) ? introspection : undefined,
  };
}

function createTrustedIssuer(issuer: string, options: IssuerRegistryOptions): TrustedIssuer {
  const now = options.now ?? Date.now;
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let metadata: IssuerMetadata | undefined;
  let inFlight: Promise<IssuerMetadata> | undefined;
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  let lastError: unknown;

  async function discover(): Promise<IssuerMetadata> {
    try {
      const answer = await fetchJson(url, { timeoutMs: options.httpTimeoutMs });
      if (answer.status !== 200) throw new UnexpectedAnswerError(url, answer.status, 'discovery failed');
      metadata = parseMetadata(issuer, url, answer.body);
      options.logger.info(`bearerAuth: discovered ${issuer}`);
      return metadata;
    } catch (error) {
      lastFailureAt = now();
      lastError = error;
      options.logger.warn(`bearerAuth: discovery of ${issuer} failed: ${describeError(error)}`);
      throw issuerUnavailable('The token issuer', error, DISCOVERY_RETRY_MS / 1000);
    }
  }

  function get(): Promise<IssuerMetadata> {
    if (metadata) return Promise.resolve(metadata);
    if (inFlight) return inFlight;
    const sinceFailure = now() - lastFailureAt;
    if (sinceFailure < DISCOVERY_RETRY_MS) {
      return Promise.reject(
        issuerUnavailable('The token issuer', lastError, (DISCOVERY_RETRY_MS - sinceFailure) / 1000),
      );
    }
    inFlight = discover().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const jwks = createJwksCache({
    issuer,
    jwksUri: async () => (await get()).jwksUri,
    cooldownMs: options.jwksCooldownMs,
    httpTimeoutMs: options.httpTimeoutMs,
    logger: options.logger,
    now,
  });
  return { issuer, metadata: get, jwks };
}

/** Builds the registry; nothing is fetched until a token names one of the issuers. */
export function createIssuerRegistry(options: IssuerRegistryOptions): IssuerRegistry {
  const byIssuer = new Map(options.issuers.map((issuer) => [issuer, createTrustedIssuer(issuer, options)]));
  const [first] = byIssuer.values();
  if (!first) throw new Error('bearerAuth: no trusted issuer');
  return {
    find: (iss) => byIssuer.get(iss),
    primary: first,
  };
}
