/** A token kept in the cache, with the instant after which it must no longer be handed out. */
export interface CachedToken {
  accessToken: string;
  /** Epoch ms: expiry minus a safety margin. */
  usableUntil: number;
}

/** Lifetime assumed when a token response has no `expires_in` (Keycloak always sends one). */
const DEFAULT_LIFETIME_SEC = 60;

/**
 * When a token from a response with `expires_in` must stop being used: `margin` before expiry so
 * that it cannot expire in flight, but never more than half the lifetime, so that short-lived
 * tokens (tests, strict realms) are still reused a little.
 */
export function usableUntil(now: number, expiresInSec: number | undefined, marginMs: number): number {
  const lifetimeMs = Math.max(0, expiresInSec ?? DEFAULT_LIFETIME_SEC) * 1000;
  return now + lifetimeMs - Math.min(marginMs, lifetimeMs / 2);
}

/** Checks a {@link CachedToken} read back from a (possibly shared) cache store. */
export function isCachedToken(value: unknown): value is CachedToken {
  if (typeof value !== 'object' || value === null) return false;
  const token = value as Partial<Record<keyof CachedToken, unknown>>;
  return (
    typeof token.accessToken === 'string' && token.accessToken !== '' && Number.isFinite(token.usableUntil)
  );
}
