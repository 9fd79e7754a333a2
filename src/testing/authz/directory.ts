import type { EmulatorGroup, EmulatorUser } from '../types.js';
import { groupId, identityId } from './ids.js';

/**
 * Total order used for stable pagination: plain code-unit order, which does not depend on the
 * host's locale (unlike `localeCompare`).
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The user named by a path segment of `/Identity/{key}`: exact `upn` first, then the identity's
 * `id` (the real API accepts both), then `upn` case-insensitively (CERN logins are lowercase but
 * clients do not always normalize them).
 */
export function findUser(users: readonly EmulatorUser[], key: string): EmulatorUser | undefined {
  const exact = users.find((user) => user.login === key);
  if (exact !== undefined) return exact;
  const lower = key.toLowerCase();
  return (
    users.find((user) => identityId(user.login) === lower) ??
    users.find((user) => user.login.toLowerCase() === lower)
  );
}

/**
 * The group named by a path segment of `/Group/{key}/...`: exact `groupIdentifier`, then the
 * group's `id`, then `groupIdentifier` case-insensitively (e-group names are case-insensitive).
 */
export function findGroup(groups: readonly EmulatorGroup[], key: string): EmulatorGroup | undefined {
  const exact = groups.find((group) => group.id === key);
  if (exact !== undefined) return exact;
  const lower = key.toLowerCase();
  return (
    groups.find((group) => groupId(group.id) === lower) ??
    groups.find((group) => group.id.toLowerCase() === lower)
  );
}
