import type { RequestHandler } from 'express';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous } from './deny.js';
import { denyStepUp, parseStepUp, shortfallOf, stepUpLoginUrl, type RequireAuthOptions } from './step-up.js';
import { kLoginPath, type InternalContext } from '../context.js';
import { wantsHtml } from '../respond.js';

export type { RequireAuthOptions } from './step-up.js';

/**
 * Lets signed-in users through. Anonymous browsers are redirected to the login route (and come
 * back afterwards); other clients get 401 JSON.
 *
 * Step-up: with `maxAgeSec` (the token's `auth_time` at most that old) and/or `acr` (its `acr`
 * one of these values), a sign-in that falls short sends browsers (HTML GET) through a new login
 * with `max_age` / `acr_values` (`prompt=login` when too old) back to the same page; a step-up
 * that still falls short within a minute gets 403 rather than a loop. JSON and bearer requests
 * get 401 `ERR_STEP_UP_REQUIRED` with RFC 9470's `WWW-Authenticate: Bearer
 * error="insufficient_user_authentication", acr_values="…", max_age="…"`. The callback checks
 * that the new ID token meets `max_age` (`auth_time`) and the asked `acr_values`.
 *
 * @throws CernSsoError `ERR_CONFIG` at construction for a `maxAgeSec` that is not an integer
 *   from 0 to 999 999 999, an `acr` value outside `[A-Za-z0-9._:/-]`, or an unknown option.
 */
export function requireAuth(options?: RequireAuthOptions): RequestHandler {
  const stepUp = parseStepUp(options);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireAuth()');
      if (!context.isAuthenticated()) {
        const loginPath = (context as InternalContext)[kLoginPath];
        if (stepUp && loginPath && wantsHtml(req) && (req.method === 'GET' || req.method === 'HEAD')) {
          // The first login may as well satisfy the step-up (Keycloak honours max_age itself).
          res.set('Cache-Control', 'no-store');
          res.redirect(302, stepUpLoginUrl(loginPath, req, stepUp, false));
          return;
        }
        denyAnonymous(req, res, context);
        return;
      }
      const shortfall = stepUp && shortfallOf(stepUp, context);
      if (!shortfall) {
        next();
        return;
      }
      denyStepUp(req, res, context, stepUp, shortfall);
    } catch (error) {
      answerGuardFailure(req, res, 'requireAuth()', error);
    }
  };
}
