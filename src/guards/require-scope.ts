import type { RequestHandler } from 'express';
import { SCOPE_TOKEN } from '../challenge.js';
import type { CernClaims } from '../context.js';
import { configError } from '../errors.js';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous, denyForbidden, requirement } from './deny.js';
import { meetsMatch, normalizeRequirement, type MatchOptions } from './match.js';
import { describe } from './require-role.js';

/**
 * The scopes of a token: its `scope` claim (RFC 9068 §2.2.3, RFC 8693 §4.2), split on spaces.
 * Keycloak issues it this way; anything else (no claim, an array, a number) holds no scope.
 */
export function grantedScopes(claims: CernClaims | undefined): Set<string> {
  const scope = claims !== undefined && Object.hasOwn(claims, 'scope') ? claims.scope : undefined;
  if (typeof scope !== 'string') return new Set();
  return new Set(scope.split(' ').filter((token) => token !== ''));
}

/**
 * Requires OAuth scopes in the token's space-separated `scope` claim: `requireScope('read')`,
 * `requireScope(['read', 'write'], { match: 'all' })`.
 *
 * - Scope names compare **exactly and case-sensitively**, as whole space-separated tokens.
 * - `match`: `'any'` (default), `'all'`, or at least `n` of the listed scopes.
 * - Meant for bearer routes (`bearerAuth()`): on session routes `req.sso.claims` are the ID
 *   token's, which Keycloak issues without `scope`, so signed-in users get 403 there.
 *
 * Anonymous requests are handled like `requireAuth()`. A token lacking the scopes gets 403; on
 * bearer routes with `WWW-Authenticate: Bearer error="insufficient_scope", error_description="…",
 * scope="…"` (RFC 6750 §3, the listed scopes) and the JSON `{ error: 'insufficient_scope', … }`.
 *
 * @throws CernSsoError `ERR_CONFIG` at construction for an empty list, a name that is not an
 *   RFC 6749 scope token (printable ASCII without space, `"` and `\`), or an invalid `match`.
 */
export function requireScope(scope: string | readonly string[], options?: MatchOptions): RequestHandler {
  const { values, match } = normalizeRequirement('requireScope()', scope, options);
  const invalid = values.filter((value) => !SCOPE_TOKEN.test(value));
  if (invalid.length > 0) {
    const problems = invalid.map(
      (value) => `${JSON.stringify(value)} is not a scope name (printable ASCII without spaces, '"' or '\\')`,
    );
    throw configError(`requireScope(): ${problems.join('; ')}`, problems);
  }
  const required = `Access requires the scope ${describe(values, match)}.`;
  const reason = requirement('scope', values);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireScope()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      const granted = grantedScopes(context.claims);
      if (meetsMatch(values, (value) => granted.has(value), match)) {
        next();
        return;
      }
      denyForbidden(req, res, context, required, reason, values);
    } catch (error) {
      answerGuardFailure(req, res, 'requireScope()', error);
    }
  };
}
