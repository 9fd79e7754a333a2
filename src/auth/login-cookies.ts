import { createHash } from 'node:crypto';
import { setCookieHeader } from './cookie-header.js';

/**
 * The cookies of the login transaction. Each pending login has two cookies named after a short
 * id derived from its `state`, so parallel tabs never overwrite each other:
 *
 * - `cernsso_login_<id>`: the sealed pending login, `Path` = the callback route (the only
 *   place that reads it);
 * - `cernsso_pending_<id>`: its creation time (base 36, not secret), `Path` = the login route,
 *   so `/login` can see how many logins are pending and drop the oldest without opening them.
 */
export const SEALED_PREFIX = 'cernsso_login_';
export const MARKER_PREFIX = 'cernsso_pending_';

/** Pending logins kept per browser; beyond it the oldest is dropped. */
export const MAX_PENDING_LOGINS = 5;

/**
 * Longest `returnTo` kept in the cookie (longer ones fall back to `/`), less what the recorded
 * `prompt`, `max_age` and `acr_values` take (at most 188 characters): a sealed login stays
 * under 1200 bytes, so the callback's `Cookie` header stays under 6.2 KB even with five of them
 * and the browser-binding cookie: below the 8 KB per header line of common proxies (nginx's
 * default), with room for the app's own cookies.
 */
export const MAX_RETURN_TO_LENGTH = 512;

const ID = /^[A-Za-z0-9_-]{16}$/;
const TIME = /^[0-9a-z]{1,11}$/;

/** Short cookie id of a `state` (whatever the client sent: the result is always a safe name). */
export function loginCookieId(state: string): string {
  return createHash('sha256').update(state).digest('base64url').slice(0, 16);
}

export interface LoginCookieSettings {
  /** Path of the callback route, with the `baseUrl` path prefix. */
  callbackPath: string;
  /** Path of the login route, with the `baseUrl` path prefix. */
  loginPath: string;
  secure: boolean;
  ttlMs: number;
}

/** The two `Set-Cookie` headers of a new pending login. */
export function pendingLoginCookies(
  settings: LoginCookieSettings,
  id: string,
  sealed: string,
  createdAt: number,
): string[] {
  const maxAgeSec = settings.ttlMs / 1000;
  const { secure } = settings;
  return [
    setCookieHeader(`${SEALED_PREFIX}${id}`, sealed, { path: settings.callbackPath, maxAgeSec, secure }),
    setCookieHeader(`${MARKER_PREFIX}${id}`, createdAt.toString(36), {
      path: settings.loginPath,
      maxAgeSec,
      secure,
    }),
  ];
}

/** `Set-Cookie` headers that delete both cookies of a pending login. */
export function clearedLoginCookies(settings: LoginCookieSettings, id: string): string[] {
  const { secure } = settings;
  return [
    setCookieHeader(`${SEALED_PREFIX}${id}`, '', { path: settings.callbackPath, maxAgeSec: 0, secure }),
    setCookieHeader(`${MARKER_PREFIX}${id}`, '', { path: settings.loginPath, maxAgeSec: 0, secure }),
  ];
}

/**
 * Ids of the pending logins `/login` drops before adding one: expired ones, and the oldest beyond
 * `MAX_PENDING_LOGINS - 1`. Reads only marker cookies whose name and value have the expected
 * shape (anything else a client sends is ignored).
 */
export function loginsToDrop(cookies: ReadonlyMap<string, string>, now: number, ttlMs: number): string[] {
  const live: { id: string; createdAt: number }[] = [];
  const drop: string[] = [];
  for (const [name, value] of cookies) {
    if (!name.startsWith(MARKER_PREFIX)) continue;
    const id = name.slice(MARKER_PREFIX.length);
    if (!ID.test(id)) continue;
    const createdAt = TIME.test(value) ? parseInt(value, 36) : NaN;
    if (Number.isFinite(createdAt) && now - createdAt < ttlMs) live.push({ id, createdAt });
    else drop.push(id);
  }
  live.sort((a, b) => b.createdAt - a.createdAt);
  return [...drop, ...live.slice(MAX_PENDING_LOGINS - 1).map(({ id }) => id)];
}
