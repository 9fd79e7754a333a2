/**
 * The two cookie primitives the login transaction needs, without a dependency: a tolerant
 * `Cookie` header parser into a `Map` (never a plain object: names come from the client) and a
 * `Set-Cookie` builder with the attributes this library always wants.
 */

/** A `Cookie` header longer than this is not read (Node refuses headers above 16 KB anyway). */
const MAX_HEADER_LENGTH = 16 * 1024;

/**
 * Cookies of a request by name. Malformed parts are skipped; for a name sent twice the first
 * value wins (browsers send the cookie with the longest path first). Values are kept as sent:
 * the library's own values are base64url and need no decoding.
 */
export function parseCookieHeader(header: unknown): Map<string, string> {
  const cookies = new Map<string, string>();
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name.length === 0 || cookies.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies.set(name, value);
  }
  return cookies;
}

export interface CookieAttributes {
  path: string;
  /** Lifetime in seconds; 0 deletes the cookie; omitted: a session cookie (no `Max-Age`). */
  maxAgeSec?: number;
  /** `Secure`: only sent over https (set when the app's `baseUrl` is https). */
  secure: boolean;
}

/** Cookie names and values the builder accepts: RFC 6265 tokens, no separators or spaces. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[!#-+\--:<-[\]-~]*$/;

/**
 * `Set-Cookie` value: always `HttpOnly` (no script needs these cookies) and `SameSite=Lax` (sent
 * on the top-level GET back from the login service, not on cross-site subrequests).
 */
export function setCookieHeader(name: string, value: string, attributes: CookieAttributes): string {
  if (!TOKEN.test(name) || !VALUE.test(value) || /[;\s]/.test(attributes.path)) {
    throw new TypeError(`invalid cookie ${name}`);
  }
  const parts = [`${name}=${value}`, `Path=${attributes.path}`];
  if (attributes.maxAgeSec !== undefined) {
    const maxAge = Math.max(0, Math.ceil(attributes.maxAgeSec));
    // Expires as well, for clients that ignore Max-Age; the epoch deletes at once. On real time,
    // not the `clock` option: the client compares it with its own clock (the login's expiry is
    // decided on the server, by the sealed login's creation time and the clock).
    const expires = maxAge === 0 ? new Date(0) : new Date(Date.now() + maxAge * 1000);
    parts.push(`Max-Age=${maxAge}`, `Expires=${expires.toUTCString()}`);
  }
  parts.push('HttpOnly', 'SameSite=Lax');
  if (attributes.secure) parts.push('Secure');
  return parts.join('; ');
}
