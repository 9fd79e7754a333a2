import type { RequestHandler } from 'express';
import { kInGroupSync, type InternalContext } from '../context.js';
import { contextOf, denyAnonymous, denyForbidden, requirement } from './deny.js';
import { answerGuardFailure } from './guard-failure.js';
import { normalizeRequirement, type MatchOptions } from './match.js';
import { describe } from './require-role.js';

/**
 * Requires e-group membership (case-insensitive): any one group by default, all, or at least `n`.
 * Anonymous requests are handled like `requireAuth()`; non-members get 403, and so does a valid
 * bearer token that names no user (no `sub`/`cern_upn`: it cannot be a member). When the AuthZ
 * API is down and nothing is cached: 503 with `Retry-After` (never a silent grant, never a 500).
 * Internal failures are logged with the logger of `cernSso()`/`bearerAuth()` and answered 500.
 */
export function requireGroup(group: string | readonly string[], options?: MatchOptions): RequestHandler {
  const { values, match } = normalizeRequirement('requireGroup()', group, options);
  const required = `Access requires membership of ${describe(values, match)}.`;
  const reason = requirement('group', values);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireGroup()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      if (!context.user) {
        denyForbidden(req, res, context, `${required} The access token names no user.`, reason);
        return;
      }
      // Warm cache or a groups claim: decided here, without a promise (the common case).
      const known = (context as InternalContext)[kInGroupSync]?.(values, match);
      if (known !== undefined) {
        if (known) next();
        else denyForbidden(req, res, context, required, reason);
        return;
      }
      context
        .inGroup(values, { match })
        .then((member) => {
          if (member) next();
          else denyForbidden(req, res, context, required, reason);
        })
        .catch((error: unknown) => {
          answerGuardFailure(req, res, 'requireGroup()', error);
        });
    } catch (error) {
      answerGuardFailure(req, res, 'requireGroup()', error);
    }
  };
}
