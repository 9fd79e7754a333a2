import type { RequestHandler } from 'express';
import type { CernClaims } from '../context.js';
import { configError } from '../errors.js';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous, denyForbidden, requirement } from './deny.js';
import { meetsMatch, normalizeRequirement, type MatchMode, type MatchOptions } from './match.js';
import { describe } from './require-role.js';

/**
 * The value at `path` in `claims`. `path` is a claim name or a dotted path into nested objects
 * (`resource_access.my-app.roles`). Keys may themselves contain dots (`https://example.org/roles`,
 * a client id `my.app`): at each level the longest key that matches the start of the remaining
 * path wins, so both spellings resolve.
 */
export function claimAt(claims: Readonly<Record<string, unknown>> | undefined, path: string): unknown {
  let current: unknown = claims;
  let rest = path;
  while (rest !== '') {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    const node = current as Record<string, unknown>;
    let key: string | undefined;
    for (let end = rest.length; end > 0; end = rest.lastIndexOf('.', end - 1)) {
      const candidate = rest.slice(0, end);
      if (Object.hasOwn(node, candidate)) {
        key = candidate;
        break;
      }
    }
    if (key === undefined) return undefined;
    current = node[key];
    rest = rest.slice(key.length + 1);
  }
  return current;
}

/** A claim value as a list of strings: strings, numbers and booleans; anything else is ignored. */
export function claimValues(value: unknown): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  const values: string[] = [];
  for (const item of list) {
    if (typeof item === 'string') values.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') values.push(String(item));
  }
  return values;
}

/** Exact, case-sensitive matching of required values against the claim's values. */
export function claimMatches(
  have: readonly string[],
  required: readonly string[],
  match: MatchMode,
): boolean {
  const owned = new Set(have);
  return meetsMatch(required, (value) => owned.has(value), match);
}

function validatePath(claim: unknown): string {
  if (
    typeof claim !== 'string' ||
    claim.trim() === '' ||
    claim.startsWith('.') ||
    claim.endsWith('.') ||
    claim.includes('..')
  ) {
    throw configError(
      `requireClaim(): the claim must be a claim name or a dotted path like "resource_access.my-app.roles", got ${JSON.stringify(claim)}`,
      ['claim: must be a claim name or a dotted path'],
    );
  }
  return claim;
}

/**
 * A custom check of a claim's value for `requireClaim(path, predicate)`: `value` is the value at
 * the path (`undefined` when absent), `claims` all the validated claims. Only `true` grants.
 */
export type ClaimPredicate = (value: unknown, claims: Readonly<CernClaims>) => boolean;

/**
 * Requires a token claim to hold given values: `requireClaim('cern_roles', 'admin')`,
 * `requireClaim('resource_access.my-app.roles', ['reader', 'writer'], { match: 'all' })`; or to
 * pass a check of your own: `requireClaim('cern_person_id', (id) => typeof id === 'number')`.
 *
 * - `claim`: a claim name or a dotted path into nested objects (segments may contain `-`, and
 *   keys containing dots resolve too, see {@link claimAt}).
 * - The claim may be a list or a single value; strings, numbers and booleans are compared as
 *   strings. Comparison is **exact and case-sensitive** (unlike group names).
 * - `match`: `'any'` (default), `'all'`, or at least `n` of the listed values.
 * - A {@link ClaimPredicate} grants only when it returns `true`: any other value (`undefined`,
 *   a truthy string...) denies with 403, so `(v) => v?.includes('x')` fails closed on a missing
 *   claim. It must be synchronous: a returned promise, or a throw, is answered 500 and logged
 *   with the guard's logger (never sent to the client).
 *
 * Anonymous requests are handled like `requireAuth()`; a missing or non-matching claim gives 403
 * (RFC 6750 `insufficient_scope` on bearer routes).
 *
 * @throws CernSsoError `ERR_CONFIG` at construction for an invalid path, values or `match`.
 */
export function requireClaim(claim: string, predicate: ClaimPredicate): RequestHandler;
export function requireClaim(
  claim: string,
  values: string | readonly string[],
  options?: MatchOptions,
): RequestHandler;
export function requireClaim(
  claim: string,
  values: string | readonly string[] | ClaimPredicate,
  options?: MatchOptions,
): RequestHandler {
  const path = validatePath(claim);
  const check =
    typeof values === 'function' ? predicateCheck(path, values) : valuesCheck(path, values, options);
  const reason = requirement('claim', [path]);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireClaim()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      const claims = context.claims ?? {};
      if (check.passes(claims)) {
        next();
        return;
      }
      denyForbidden(req, res, context, check.message, reason);
    } catch (error) {
      answerGuardFailure(req, res, 'requireClaim()', error);
    }
  };
}

interface ClaimCheck {
  passes(claims: CernClaims): boolean;
  message: string;
}

function valuesCheck(path: string, values: string | readonly string[], options?: MatchOptions): ClaimCheck {
  const { values: required, match } = normalizeRequirement('requireClaim()', values, options);
  return {
    passes: (claims) => claimMatches(claimValues(claimAt(claims, path)), required, match),
    message: `Access requires the claim "${path}" to hold ${describe(required, match)}.`,
  };
}

function predicateCheck(path: string, predicate: ClaimPredicate): ClaimCheck {
  return {
    passes(claims) {
      const result: unknown = predicate(claimAt(claims, path), claims);
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        throw configError(
          `requireClaim("${path}"): the predicate returned a promise; it must return a boolean synchronously`,
          ['predicate: must return a boolean synchronously'],
        );
      }
      return result === true;
    },
    message: `Access requires the claim "${path}" to pass the application's check.`,
  };
}
