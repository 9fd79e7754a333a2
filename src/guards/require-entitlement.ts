import type { RequestHandler } from 'express';
import { configError } from '../errors.js';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous, denyForbidden, requirement } from './deny.js';
import { meetsMatch, normalizeRequirement, type MatchMode, type MatchOptions } from './match.js';
import { claimAt, claimValues } from './require-claim.js';
import { describe } from './require-role.js';

/**
 * An AARC-G002 group entitlement,
 * `<NAMESPACE>:group:<GROUP>[:<SUBGROUP>*][:role=<ROLE>][#<GROUP-AUTHORITY>]`, e.g.
 * `urn:geant:cern.ch:group:it-dep:role=member#cern.ch`.
 */
export interface GroupEntitlement {
  /** `urn:<NID>:<DELEGATED-NAMESPACE>[:<SUBNAMESPACE>*]`, lower-cased (compared case-insensitively). */
  namespace: string;
  /** The group and its sub-groups, root first: `['it-dep', 'cd']` for `…:group:it-dep:cd`. */
  path: string[];
  /** The role in the rightmost (sub-)group, if any. */
  role: string | undefined;
  /** The authority after `#`, lower-cased; optional (AARC-G069 deprecates it). */
  authority: string | undefined;
}

/** `%xx` escapes with upper-case hex, so equivalent spellings compare equal (RFC 3986 §6.2.2.1). */
const normalizePercent = (value: string): string =>
  value.replace(/%[0-9a-fA-F]{2}/g, (escape) => escape.toUpperCase());

/**
 * Parses an AARC-G002 group entitlement, or returns `undefined` when `value` is not one. The
 * group authority (`#…`) may be omitted (AARC-G069 made it optional). Whitespace is not allowed.
 */
export function parseEntitlement(value: string): GroupEntitlement | undefined {
  if (value === '' || /\s/.test(value)) return undefined;
  const hash = value.indexOf('#');
  const body = hash < 0 ? value : value.slice(0, hash);
  const authority = hash < 0 ? undefined : value.slice(hash + 1);
  if (authority === '' || authority?.includes('#')) return undefined;
  const parts = body.split(':');
  // urn : NID : DELEGATED-NAMESPACE [: SUBNAMESPACE]* : group : GROUP …
  if (parts[0]?.toLowerCase() !== 'urn') return undefined;
  const groupAt = parts.indexOf('group', 3);
  if (groupAt < 0 || parts.slice(0, groupAt).some((part) => part === '')) return undefined;
  const groupParts = parts.slice(groupAt + 1);
  let role: string | undefined;
  const last = groupParts.at(-1);
  if (last?.startsWith('role=')) {
    role = last.slice('role='.length);
    groupParts.pop();
    if (role === '') return undefined;
  }
  if (groupParts.length === 0 || groupParts.some((part) => part === '' || part.startsWith('role='))) {
    return undefined;
  }
  return {
    namespace: parts.slice(0, groupAt).join(':').toLowerCase(),
    path: groupParts.map(normalizePercent),
    role: role === undefined ? undefined : normalizePercent(role),
    authority: authority?.toLowerCase(),
  };
}

/**
 * Whether the user's entitlement `held` satisfies the `required` one, following AARC-G002:
 *
 * - The namespace compares case-insensitively (URN namespace identifiers are case-insensitive,
 *   RFC 8141); group, sub-group and role names compare exactly (case-sensitive).
 * - The group path must be the same: membership of a sub-group `a:b` does **not** imply
 *   membership of its parent `a` (AARC-G002 expresses every membership explicitly, so the
 *   parent's membership comes with its own entitlement), nor the other way round.
 * - A role is scoped to the rightmost (sub-)group. A required entitlement without a role is
 *   satisfied by any entitlement for that group, with or without a role; one with a role needs
 *   exactly that role in exactly that group.
 * - The group authority is ignored unless the required entitlement names one; then it must be
 *   the same (case-insensitive).
 */
export function entitlementSatisfies(held: GroupEntitlement, required: GroupEntitlement): boolean {
  if (held.namespace !== required.namespace) return false;
  if (held.path.length !== required.path.length) return false;
  if (held.path.some((segment, index) => segment !== required.path[index])) return false;
  if (required.role !== undefined && held.role !== required.role) return false;
  if (required.authority !== undefined && held.authority !== required.authority) return false;
  return true;
}

/** Whether enough of `required` are satisfied by one of `held` for `match`. */
export function entitlementsMatch(
  held: readonly GroupEntitlement[],
  required: readonly GroupEntitlement[],
  match: MatchMode,
): boolean {
  return meetsMatch(required, (need) => held.some((have) => entitlementSatisfies(have, need)), match);
}

/** Options of {@link requireEntitlement}. */
export interface RequireEntitlementOptions extends MatchOptions {
  /** The claim holding the user's entitlements (a dotted path is accepted). Default `eduperson_entitlement`. */
  claim?: string;
}

/**
 * Requires AARC-G002 group entitlements (e.g. from an `eduperson_entitlement` claim):
 * `requireEntitlement('urn:geant:cern.ch:group:it-dep:role=member#cern.ch')`.
 * Matching follows {@link entitlementSatisfies}: exact group path (a sub-group does not imply
 * its parent), any role when none is required, case-insensitive namespace, case-sensitive
 * group and role names. `match` is `'any'` (default), `'all'` or at least `n` of the listed
 * entitlements. Entitlements of the user that do not parse are ignored.
 *
 * Anonymous requests are handled like `requireAuth()`; otherwise 403 when not entitled.
 *
 * @throws CernSsoError `ERR_CONFIG` at construction when a required entitlement does not parse.
 */
export function requireEntitlement(
  entitlements: string | readonly string[],
  options: RequireEntitlementOptions = {},
): RequestHandler {
  const { claim = 'eduperson_entitlement', ...matchOptions } = options;
  const { values, match } = normalizeRequirement('requireEntitlement()', entitlements, matchOptions);
  const invalid = values.filter((value) => parseEntitlement(value) === undefined);
  if (invalid.length > 0 || typeof claim !== 'string' || claim === '') {
    const problems = [
      ...invalid.map(
        (value) =>
          `"${value}" is not an AARC-G002 entitlement (urn:<nid>:<namespace>:group:<group>[:<subgroup>…][:role=<role>][#<authority>])`,
      ),
      ...(typeof claim !== 'string' || claim === '' ? ['claim: must be a claim name'] : []),
    ];
    throw configError(`requireEntitlement(): ${problems.join('; ')}`, problems);
  }
  const required = values.map((value) => parseEntitlement(value)).filter((value) => value !== undefined);
  const reason = requirement('entitlement', values);
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireEntitlement()');
      if (!context.isAuthenticated()) {
        denyAnonymous(req, res, context);
        return;
      }
      const held = claimValues(claimAt(context.claims, claim))
        .map(parseEntitlement)
        .filter((value) => value !== undefined);
      if (entitlementsMatch(held, required, match)) {
        next();
        return;
      }
      denyForbidden(req, res, context, `Access requires the entitlement ${describe(values, match)}.`, reason);
    } catch (error) {
      answerGuardFailure(req, res, 'requireEntitlement()', error);
    }
  };
}
