import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { setCookieHeader } from './cookie-header.js';

/**
 * The browser-binding cookie: one random value per browser that every pending login is sealed
 * with (as a digest), and that the callback requires back. It closes login CSRF by cookie
 * tossing: a sibling site (`evil.web.cern.ch` next to `myapp.web.cern.ch`) can set a genuine
 * sealed login cookie of its own with `Domain=web.cern.ch`, but it cannot set a `__Host-` cookie
 * for another host, so its sealed login never matches the victim's binding.
 *
 * Not server-side state: the value lives only in the browser, its digest only in the sealed
 * login cookies. Parallel tabs share it; it is never replaced while a well-formed one is present
 * (that would break the other tabs' pending logins) and neither the callback nor sign-out clears
 * it (other tabs may still be pending).
 */
export const BINDING_COOKIE = 'cernsso_browser';

/** 16 random bytes, base64url: 22 characters. */
const BINDING_BYTES = 16;
const WELL_FORMED = /^[A-Za-z0-9_-]{22}$/;

/**
 * Name of the binding cookie. On https, `__Host-cernsso_browser`: browsers accept a `__Host-`
 * cookie only from the host itself, `Secure`, `Path=/` and without `Domain`, so no sibling domain
 * can set or shadow it. On plain http (allowed by the config for loopback development only)
 * browsers refuse `__Host-` cookies, which need `Secure`: the name goes without the prefix there,
 * and other ports of the same loopback host could set it (development only).
 */
export function bindingCookieName(secure: boolean): string {
  return secure ? `__Host-${BINDING_COOKIE}` : BINDING_COOKIE;
}

/** A new binding value. */
export function newBinding(): string {
  return randomBytes(BINDING_BYTES).toString('base64url');
}

/**
 * The binding value a request carries, if well-formed. On https ONLY the `__Host-` name is read:
 * a `cernsso_browser` cookie there may come from a sibling domain and is ignored. A name sent
 * twice keeps its first value (`parseCookieHeader`); that is safe because on https the name read
 * is one only this host can set (a sibling can neither set it nor put another one in front).
 */
export function readBinding(cookies: ReadonlyMap<string, string>, secure: boolean): string | undefined {
  const value = cookies.get(bindingCookieName(secure));
  return value !== undefined && WELL_FORMED.test(value) ? value : undefined;
}

/**
 * `Set-Cookie` of a new binding: `Path=/` (required of `__Host-`, and every callback path is
 * below it), `HttpOnly`, `SameSite=Lax`, `Secure` on https, and a session cookie: it lives as long
 * as the browser session, which outlives any login started in one of its tabs (`loginTimeoutMs`),
 * and leaves no long-lived identifier behind.
 */
export function bindingCookie(value: string, secure: boolean): string {
  return setCookieHeader(bindingCookieName(secure), value, { path: '/', secure });
}

/**
 * What the sealed login keeps of the binding: its SHA-256 cut to 128 bits, base64url (22
 * characters). Not the value itself (the sealed cookie needs no copy of it), and short: every
 * pending login carries it. 128 bits of a digest of 128 random bits, encrypted in the JWE, leave
 * nothing to guess.
 */
export function bindingDigest(value: string): string {
  return createHash('sha256').update(value).digest().subarray(0, 16).toString('base64url');
}

/** True when `value` (from the request) is the binding whose digest the sealed login holds. */
export function bindingMatches(digest: unknown, value: string | undefined): boolean {
  if (typeof digest !== 'string' || value === undefined) return false;
  const expected = Buffer.from(digest);
  const actual = Buffer.from(bindingDigest(value));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
