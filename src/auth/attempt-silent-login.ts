import type { Request, RequestHandler } from 'express';
import { configError } from '../errors.js';
import { answerGuardFailure } from '../guards/guard-failure.js';
import { loginUrl } from '../login-url.js';
import { wantsHtml } from '../respond.js';
import { parseCookieHeader } from './cookie-header.js';
import { appPath } from './runtime.js';
import { SessionContext } from './session-context.js';
import { SILENT_COOKIE, silentAttemptCookie } from './silent-login-cookie.js';

/** A path as the routes of `cernSso()` match it: case-insensitive, optional trailing slash. */
const routeKey = (path: string): string => path.toLowerCase().replace(/\/+$/, '');

/**
 * A top-level page load a person is waiting for: `GET`, prefers HTML, not a script's request
 * (`X-Requested-With`, `Sec-Fetch-Dest` other than `document`), not a frame or a prefetch.
 */
function isPageNavigation(req: Request): boolean {
  if (req.method !== 'GET' || !wantsHtml(req)) return false;
  if (req.get('x-requested-with') !== undefined) return false;
  // A browser's fetch() sends `Sec-Fetch-Dest: empty`, a frame `iframe`, a page `document`.
  const dest = req.get('sec-fetch-dest');
  if (dest !== undefined && dest !== 'document') return false;
  const purpose = req.get('sec-purpose') ?? req.get('purpose');
  return purpose === undefined || !/prefetch|prerender/i.test(purpose);
}

/**
 * Signs a browser in without a page when it already has a CERN SSO session: the first anonymous
 * page load (an HTML `GET`) of a browser is redirected once to `/login?prompt=none&returnTo=...`.
 * Keycloak signs the user in silently and the browser comes back signed in, or answers
 * `login_required` and the browser comes back to the same page, anonymous. The attempt is
 * marked in a small browser-session cookie (`cern-sso.silent`, never the server's session), so it
 * happens at most once per browser session and never loops; logging out sets it too.
 *
 * Mount it after `cernSso()` and before your routes. Signed-in requests, API calls (JSON, XHR,
 * `fetch`), other methods than `GET`, and the routes of `cernSso()` pass through untouched.
 * Clients that keep no cookies (crawlers, `curl`) get the login error page instead of the page
 * they asked for: put it only in front of pages meant for people.
 */
export function attemptSilentLogin(): RequestHandler {
  return (req, res, next) => {
    try {
      const context = (req as { sso?: unknown }).sso;
      if (context === undefined) {
        throw configError(
          'attemptSilentLogin() needs cernSso() to be mounted before it (req.sso is not set)',
        );
      }
      // bearerAuth() contexts (APIs) and signed-in users: nothing to try.
      if (!(context instanceof SessionContext) || context.isAuthenticated() || !isPageNavigation(req)) {
        next();
        return;
      }
      const { runtime } = context;
      const { routes } = runtime.config;
      if (routes.login === false || parseCookieHeader(req.headers.cookie).has(SILENT_COOKIE)) {
        next();
        return;
      }
      const path = routeKey(req.originalUrl.split('?', 1)[0] ?? '');
      const own = [routes.login, routes.callback, routes.logout].filter((r): r is string => r !== false);
      if (own.some((route) => routeKey(route) === path)) {
        next();
        return;
      }
      res.append('Set-Cookie', silentAttemptCookie(runtime));
      res.set('Cache-Control', 'no-store');
      const url = loginUrl(appPath(runtime, routes.login), [
        ['prompt', 'none'],
        ['returnTo', req.originalUrl],
      ]);
      res.redirect(302, url);
    } catch (error) {
      answerGuardFailure(req, res, 'attemptSilentLogin()', error);
    }
  };
}
