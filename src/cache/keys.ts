import { createHash } from 'node:crypto';

/**
 * Prefix of every key the library writes. The version part changes whenever the shape of a
 * stored value changes, so that instances running different versions against one shared store
 * (a rolling deploy on Redis) never read each other's data.
 */
export const CACHE_NAMESPACE = 'cern-sso:v1';

/** Longest encoded key part kept readable; longer parts are hashed to bound key size. */
const MAX_READABLE_PART = 128;

/** SHA-256 of `text`, base64url: for secrets (tokens) and long or structured key parts. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * One key part made safe for any store: percent-encoded (so `:`, `/`, spaces and non-ASCII
 * characters in logins such as eduGAIN `sub`s cannot collide with the separator), or hashed
 * when long. `encodeURIComponent` always encodes `:`, so a hashed part (`h:...`) can never
 * equal an encoded one.
 */
export function keyPart(value: string): string {
  const encoded = encodeURIComponent(value);
  return encoded.length <= MAX_READABLE_PART ? encoded : `h:${sha256(value)}`;
}

/** `cern-sso:v1:<kind>:<part>:<part>...` with every part made safe by {@link keyPart}. */
export function cacheKey(kind: string, ...parts: string[]): string {
  return [CACHE_NAMESPACE, kind, ...parts.map(keyPart)].join(':');
}

/**
 * A key for structured input (search criteria, token + audience): the SHA-256 of its canonical
 * JSON (object keys sorted), so equal inputs share an entry and secrets never appear in keys.
 */
export function hashedCacheKey(kind: string, input: unknown): string {
  return `${CACHE_NAMESPACE}:${kind}:${sha256(canonicalJson(input))}`;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(inner).sort()) sorted[name] = (inner as Record<string, unknown>)[name];
    return sorted;
  });
}
