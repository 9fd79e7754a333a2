/** The alias that stands for membership of the configured `cernUsersGroup`. */
export const CERN_USERS_ALIAS = 'CERN Users';

/**
 * Group names as the library hands them out: strings only, trimmed, non-empty, de-duplicated
 * case-insensitively (e-group names are case-insensitive), first spelling kept. Entries
 * containing `|` (`name|uuid` artefacts of the precomputed membership) are bogus and dropped.
 */
export function cleanGroupNames(names: readonly unknown[]): string[] {
  const seen = new Set<string>();
  const groups: string[] = [];
  for (const raw of names) {
    if (typeof raw !== 'string') continue;
    const name = raw.trim();
    if (name === '' || name.includes('|')) continue;
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    groups.push(name);
  }
  return groups;
}

/** Case-insensitive group name comparison. */
export function sameGroup(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * A copy of `groups` plus {@link CERN_USERS_ALIAS} when `cernUsersGroup` is among them. Added
 * when reading rather than stored, so a configuration change applies to cached data at once.
 */
export function withCernUsersAlias(groups: readonly string[], cernUsersGroup: string | undefined): string[] {
  const result = [...groups];
  if (
    cernUsersGroup !== undefined &&
    groups.some((group) => sameGroup(group, cernUsersGroup)) &&
    !groups.some((group) => sameGroup(group, CERN_USERS_ALIAS))
  ) {
    result.push(CERN_USERS_ALIAS);
  }
  return result;
}

/** Checks a group list read back from the cache store. */
export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * Internal: `identity[kUserGroupSet](login)` gives the user's groups as a set of lower-case names
 * (alias included), for guards. Memoised per cached group list, so a warm check does not
 * lower-case a few hundred e-group names on every request.
 */
export const kUserGroupSet = Symbol('express-cern-sso.userGroupSet');

/** Internal: the same, synchronously, when it is fresh in an in-process cache; else `undefined`. */
export const kUserGroupSetSync = Symbol('express-cern-sso.userGroupSetSync');

export interface GroupSetSource {
  [kUserGroupSet](login: string): Promise<ReadonlySet<string>>;
  [kUserGroupSetSync](login: string): ReadonlySet<string> | undefined;
}

export function hasGroupSets(identity: object): identity is GroupSetSource {
  return typeof (identity as Partial<GroupSetSource>)[kUserGroupSet] === 'function';
}

/** Group lists as sets of lower-case names (with the `CERN Users` alias), memoised per list object. */
export function createGroupSets(
  cernUsersGroup: string | undefined,
): (groups: readonly unknown[]) => ReadonlySet<string> {
  const memo = new WeakMap<readonly unknown[], ReadonlySet<string>>();
  const aliasOwner = cernUsersGroup?.toLowerCase();
  return (groups) => {
    let set = memo.get(groups);
    if (set === undefined) {
      const names = new Set(cleanGroupNames(groups).map((name) => name.toLowerCase()));
      if (aliasOwner !== undefined && names.has(aliasOwner)) names.add(CERN_USERS_ALIAS.toLowerCase());
      set = names;
      memo.set(groups, set);
    }
    return set;
  };
}
