import { importJWK, type CryptoKey, type JWK } from 'jose';
import { CernSsoError } from '../errors.js';
import { describeError, type Logger } from '../logger.js';
import { invalidToken, issuerUnavailable } from './errors.js';
import { fetchJson, jsonObject, UnexpectedAnswerError } from './http.js';
import type { BearerAlgorithm } from './options.js';

/** Keys older than this are refetched in the background on use (removed keys stop verifying). */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

/** The signing keys of one issuer, fetched on demand. */
export interface JwksCache {
  /**
   * The key that verifies a token with this header. The JWKS is fetched on first use; an
   * unknown `kid` refetches it, at most once per `cooldownMs` (a request that arrives inside the
   * cool-down waits for the next allowed refetch, shared by every such request), so a flood of
   * forged `kid`s costs one request per cool-down. Rejects with 401 `invalid_token` for a key the
   * issuer does not publish, 503 when the JWKS cannot be fetched.
   */
  getKey(header: { kid?: string | undefined; alg: BearerAlgorithm }): Promise<CryptoKey>;
}

export interface JwksCacheOptions {
  issuer: string;
  /** Where the JWKS is (resolves after discovery; rejects with a 503 when discovery fails). */
  jwksUri: () => Promise<string>;
  cooldownMs: number;
  httpTimeoutMs: number;
  logger: Logger;
  now: () => number;
}

const EC_CURVES = new Map<string, string>([
  ['ES256', 'P-256'],
  ['ES384', 'P-384'],
  ['ES512', 'P-521'],
]);

/** Whether `jwk` is a public signature key usable with `alg`. */
export function keyFitsAlgorithm(jwk: JWK, alg: BearerAlgorithm): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === EC_CURVES.get(alg);
  return jwk.kty === 'OKP' && (jwk.crv === 'Ed25519' || jwk.crv === 'Ed448');
}

function parseJwks(url: string, body: unknown): JWK[] {
  const keys = jsonObject(body)?.keys;
  if (!Array.isArray(keys)) throw new UnexpectedAnswerError(url, 200, 'not a JWKS (no "keys" array)');
  return keys.filter(
    (key): key is JWK =>
      typeof key === 'object' && key !== null && typeof (key as { kty?: unknown }).kty === 'string',
  );
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Creates the JWKS cache of one issuer. Nothing is fetched until the first `getKey()`. */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const { now, cooldownMs, logger } = options;
  const what = "The token issuer's signing keys (JWKS)";
  let keys: JWK[] | undefined;
  let fetchedAt = 0;
  let imported = new WeakMap<JWK, Map<string, Promise<CryptoKey>>>();
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastError: unknown;
  let inFlight: Promise<void> | undefined;
  let scheduled: Promise<void> | undefined;

  /** The keys as of now (a function: they change while awaiting a fetch). */
  const currentKeys = (): JWK[] => keys ?? [];
  const retryAfterSec = (): number => Math.max(1, Math.ceil(cooldownMs / 1000));

  async function fetchKeys(): Promise<void> {
    try {
      const uri = await options.jwksUri();
      const answer = await fetchJson(uri, { timeoutMs: options.httpTimeoutMs });
      if (answer.status !== 200) throw new UnexpectedAnswerError(uri, answer.status, 'JWKS request failed');
      keys = parseJwks(uri, answer.body);
      fetchedAt = now();
      imported = new WeakMap();
      lastError = undefined;
      logger.debug(`bearerAuth: fetched ${keys.length} key(s) of ${options.issuer}`);
    } catch (error) {
      lastError = error;
      // Discovery failures are already 503s (and logged).
      if (error instanceof CernSsoError) throw error;
      logger.warn(`bearerAuth: JWKS of ${options.issuer} unavailable: ${describeError(error)}`);
      throw issuerUnavailable(what, error, retryAfterSec());
    }
  }

  /** One fetch at a time, shared by every caller. */
  function load(): Promise<void> {
    if (inFlight) return inFlight;
    lastAttemptAt = now();
    inFlight = fetchKeys().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  async function ensureLoaded(): Promise<JWK[]> {
    if (keys) {
      if (now() - fetchedAt > JWKS_MAX_AGE_MS && !inFlight && now() - lastAttemptAt >= cooldownMs) {
        // Stale: refresh in the background, keep verifying with what we have (failures logged).
        load().catch(() => undefined);
      }
      return keys;
    }
    if (!inFlight && lastError !== undefined && now() - lastAttemptAt < cooldownMs) {
      throw issuerUnavailable(what, lastError, retryAfterSec());
    }
    await load();
    return currentKeys();
  }

  /** A refetch for an unknown key: the next one allowed by the cool-down, shared. */
  function refetchForUnknownKey(): Promise<void> {
    if (inFlight) return inFlight;
    if (scheduled) return scheduled;
    const wait = lastAttemptAt + cooldownMs - now();
    if (wait <= 0) return load();
    scheduled = sleep(wait)
      .then(load)
      .finally(() => {
        scheduled = undefined;
      });
    return scheduled;
  }

  function select(
    available: readonly JWK[],
    kid: string | undefined,
    alg: BearerAlgorithm,
  ): JWK | 'mismatch' | undefined {
    if (kid !== undefined) {
      const named = available.filter((key) => key.kid === kid);
      if (named.length === 0) return undefined;
      return named.find((key) => keyFitsAlgorithm(key, alg)) ?? 'mismatch';
    }
    const fitting = available.filter((key) => keyFitsAlgorithm(key, alg));
    if (fitting.length > 1) return 'mismatch';
    return fitting[0];
  }

  function importKey(jwk: JWK, alg: BearerAlgorithm): Promise<CryptoKey> {
    let byAlg = imported.get(jwk);
    if (!byAlg) {
      byAlg = new Map();
      imported.set(jwk, byAlg);
    }
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK(jwk, alg).then((result) => {
        if (result instanceof Uint8Array) throw new Error('symmetric key in a JWKS');
        return result;
      });
      key.catch((error: unknown) => {
        logger.warn(
          `bearerAuth: key ${String(jwk.kid)} of ${options.issuer} cannot be used: ${describeError(error)}`,
        );
      });
      byAlg.set(alg, key);
    }
    return key;
  }

  async function getKey(header: { kid?: string | undefined; alg: BearerAlgorithm }): Promise<CryptoKey> {
    let found = select(await ensureLoaded(), header.kid, header.alg);
    if (found === undefined) {
      // Maybe the issuer rotated its keys: refetch (rate-limited, shared), then look again.
      await refetchForUnknownKey();
      found = select(currentKeys(), header.kid, header.alg);
    }
    if (found === undefined) {
      throw invalidToken(
        header.kid === undefined
          ? 'the token names no key (kid) and the issuer publishes no key for its algorithm'
          : 'the token was signed with a key the issuer does not publish (unknown kid)',
      );
    }
    if (found === 'mismatch') {
      throw invalidToken(
        header.kid === undefined
          ? 'the token names no key (kid) and the issuer publishes several keys'
          : `the token's key (kid) cannot verify its algorithm ${header.alg}`,
      );
    }
    try {
      return await importKey(found, header.alg);
    } catch (error) {
      throw invalidToken("the issuer's key for this token cannot be used", error);
    }
  }

  return { getKey };
}
