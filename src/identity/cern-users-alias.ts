import { CERN_USERS_ALIAS, sameGroup } from '../auth/group-names.js';

/** The `CERN Users` alias where a group is named or searched (see `withCernUsersAlias` for memberships). */
export interface CernUsersAlias {
  /** `cernUsersGroup` for `CERN Users` (any case) when it is configured, else `name` unchanged. */
  resolve: (name: string) => string;
  /**
   * `found` plus `CERN Users` when `cernUsersGroup` is configured and the search `query` matches
   * the alias name as Flask-Multipass-CERN's `search_groups` does: equal to it (case-insensitive),
   * or, when not `exact`, contained in it (`cern`, `users`, `N U`). Added when reading, so a
   * configuration change applies to cached results at once.
   */
  withSearchAlias(found: readonly string[], query: string, exact: boolean): string[];
}

/** The alias for `cernUsersGroup` (none when it is not configured: the alias then names no group). */
export function cernUsersAlias(cernUsersGroup: string | undefined): CernUsersAlias {
  const alias = CERN_USERS_ALIAS.toLowerCase();
  return {
    resolve: (name) =>
      cernUsersGroup !== undefined && sameGroup(name, CERN_USERS_ALIAS) ? cernUsersGroup : name,

    withSearchAlias(found, query, exact) {
      const result = [...found];
      if (cernUsersGroup === undefined || result.some((group) => sameGroup(group, CERN_USERS_ALIAS)))
        return result;
      const wanted = query.toLowerCase();
      if (wanted === alias || (!exact && alias.includes(wanted))) result.push(CERN_USERS_ALIAS);
      return result;
    },
  };
}
