import type { RequestHandler } from 'express';
import { configError } from '../errors.js';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous, denyForbidden } from './deny.js';
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
 * Requires a token claim to hold given values: `requireClaim('cern_roles', 'admin')`,
 * `requireClaim('resource_access.my-app.roles', ['reader', 'writer'], { match: 'all' })`.
 *
 * - `claim`: a claim name or a dotted path into nested objects (segments may contain `-`, and
 *   keys containing dots resolve too, see {@link claimAt}).
 * - The claim may be a list or a single value; strings, numbers and booleans are compared as
 *   strings. Comparison is **exact and case-sensitive** (unlike group names).
 * - `match`: `'any'` (default), `'all'`, or at least `n` of the listed values.
 *
 * Anonymous requests are handled like `requireAuth()`; a missing or non-matching claim gives 403
 * (RFC 6750 `insufficient_scope` on bearer routes).
 *
 * @throws CernSsoError `ERR_CONFIG` at construction for an invalid path, values or `match`.
 */
export function requireClaim(
  claim: string,
  values: string | readonly string[],
  options?: MatchOptions,
): RequestHandler {
  const path = validatePath(claim);
  const { values: required, match } = normalizeRequirement('requireClaim()', values, options);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireClaim()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      if (claimMatches(claimValues(claimAt(context.claims, path)), required, match)) {
        next();
        return;
      }
      denyForbidden(
        req,
        res,
        context,
        `Access requires the claim "${path}" to hold ${describe(required, match)}.`,
      );
    } catch (error) {
      answerGuardFailure(req, res, 'requireClaim()', error);
    }
  };
}
