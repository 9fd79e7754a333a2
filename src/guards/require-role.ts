import type { RequestHandler } from 'express';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous, denyForbidden, requirement } from './deny.js';
import { matches, normalizeRequirement, type MatchOptions } from './match.js';

/**
 * Requires Application Portal roles (`cern_roles`): any one by default, all, or at least `n`.
 * Anonymous requests are handled like `requireAuth()`; missing roles give 403, and so does a
 * valid bearer token that names no user (no `sub`/`cern_upn`).
 */
export function requireRole(role: string | readonly string[], options?: MatchOptions): RequestHandler {
  const { values, match } = normalizeRequirement('requireRole()', role, options);
  const reason = requirement('role', values);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireRole()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      const required = `Access requires the role ${describe(values, match)}.`;
      const user = context.user;
      if (!user) {
        denyForbidden(req, res, context, `${required} The access token names no user.`, reason);
        return;
      }
      if (matches(user.roles, values, match)) {
        next();
        return;
      }
      denyForbidden(req, res, context, required, reason);
    } catch (error) {
      answerGuardFailure(req, res, 'requireRole()', error);
    }
  };
}

export function describe(values: readonly string[], match: MatchOptions['match']): string {
  const quoted = values.map((v) => `"${v}"`);
  if (values.length === 1) return quoted[0] ?? '';
  if (match === 'all') return `all of ${quoted.join(', ')}`;
  if (typeof match === 'number') return `at least ${match} of ${quoted.join(', ')}`;
  return `one of ${quoted.join(', ')}`;
}
