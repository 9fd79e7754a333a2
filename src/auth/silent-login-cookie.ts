import { setCookieHeader } from './cookie-header.js';
import type { AuthRuntime } from './runtime.js';

/**
 * Marks a browser that had its one silent login attempt (or logged out): `attemptSilentLogin()`
 * never tries again while it is there. A cookie, not the session: nothing a client triggers before
 * login grows server-side state. A browser-session cookie (no `Max-Age`): a new browser session
 * tries again, as a new visit should.
 */
export const SILENT_COOKIE = 'cern-sso.silent';

/** The `Set-Cookie` header of the marker, for the whole app (the `baseUrl` path). */
export function silentAttemptCookie(runtime: AuthRuntime): string {
  return setCookieHeader(SILENT_COOKIE, '1', {
    path: runtime.basePath === '' ? '/' : runtime.basePath,
    secure: runtime.config.baseUrl.startsWith('https:'),
  });
}
