import type { RequestHandler } from 'express';
import { describeError } from '../logger.js';
import { sendError, toCernSsoError } from '../respond.js';
import { contextOf, denyAnonymous, denyForbidden } from './deny.js';
import { normalizeRequirement, type MatchOptions } from './match.js';
import { describe } from './require-role.js';

/**
 * Requires e-group membership (case-insensitive): any one group by default, all, or at least `n`.
 * Anonymous requests are handled like `requireAuth()`; non-members get 403. When the AuthZ API is
 * down and nothing is cached: 503 with `Retry-After` (never a silent grant, never a 500).
 */
export function requireGroup(group: string | readonly string[], options?: MatchOptions): RequestHandler {
  const { values, match } = normalizeRequirement('requireGroup()', group, options);
  return (req, res, next) => {
    let context;
    try {
      context = contextOf(req, 'requireGroup()');
    } catch (error) {
      sendError(req, res, toCernSsoError(error));
      return;
    }
    if (!context.isAuthenticated()) {
      denyAnonymous(req, res, context);
      return;
    }
    context.inGroup(values, { match }).then(
      (member) => {
        if (member) next();
        else denyForbidden(req, res, context, `Access requires membership of ${describe(values, match)}.`);
      },
      (error: unknown) => {
        const failure = toCernSsoError(error);
        if (failure.status >= 500 && failure.status !== 503) {
          console.error(`[express-cern-sso] requireGroup failed: ${describeError(error)}`);
        }
        sendError(req, res, failure);
      },
    );
  };
}
