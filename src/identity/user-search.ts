import type { CernIdentity, UserSearchField, UserSearchResult } from './types.js';
import { badInput, requireSearchValue } from './validation.js';

/** `searchUsers()` criteria keys and the AuthZ identity fields they filter on. */
export const USER_SEARCH_FIELDS: Readonly<Record<UserSearchField, string>> = {
  login: 'upn',
  email: 'primaryAccountEmail',
  firstName: 'firstName',
  lastName: 'lastName',
  displayName: 'displayName',
  affiliation: 'instituteName',
};

/** Always added to user searches: only people, not service or secondary accounts. */
export const PERSON_FILTER = 'type:eq:Person';

/** Upper bound on the queries one search may fan out to (product of the value counts). */
export const MAX_SEARCH_QUERIES = 25;

const METHOD = 'searchUsers';

function isSearchField(name: string): name is UserSearchField {
  return Object.hasOwn(USER_SEARCH_FIELDS, name);
}

/** The values of one criterion: trimmed, non-empty, de-duplicated case-insensitively, in order. */
function criterionValues(field: string, raw: unknown): string[] {
  const list: readonly unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw badInput(METHOD, `criteria.${field} must contain at least one value`);
  const seen = new Set<string>();
  const values: string[] = [];
  for (const item of list) {
    const value = requireSearchValue(METHOD, `criteria.${field}`, item);
    if (seen.has(value.toLowerCase())) continue;
    seen.add(value.toLowerCase());
    values.push(value);
  }
  return values;
}

/**
 * Turns criteria into the AuthZ filter lists to run. Fields are AND-ed inside one query; the
 * API has no OR, so a field with several values becomes several queries (the cartesian product
 * over fields). Every query gets {@link PERSON_FILTER} and `extraFilters`.
 */
export function planUserSearch(
  criteria: unknown,
  exact: boolean,
  extraFilters: readonly string[],
): string[][] {
  if (typeof criteria !== 'object' || criteria === null || Array.isArray(criteria)) {
    throw badInput(METHOD, 'criteria must be an object such as { lastName: "Doe" }');
  }
  const op = exact ? 'eq' : 'contains';
  let queries: string[][] = [[]];
  let criteriaCount = 0;
  for (const [field, raw] of Object.entries(criteria)) {
    if (raw === undefined) continue;
    if (!isSearchField(field)) {
      throw badInput(
        METHOD,
        `unknown criterion "${field}"; use ${Object.keys(USER_SEARCH_FIELDS).join(', ')}`,
      );
    }
    criteriaCount++;
    const filters = criterionValues(field, raw).map((value) => `${USER_SEARCH_FIELDS[field]}:${op}:${value}`);
    if (queries.length * filters.length > MAX_SEARCH_QUERIES) {
      throw badInput(METHOD, `too many value combinations (more than ${MAX_SEARCH_QUERIES} queries)`);
    }
    queries = queries.flatMap((query) => filters.map((filter) => [...query, filter]));
  }
  if (criteriaCount === 0) {
    throw badInput(METHOD, 'give at least one criterion (use iterateIdentities() to list everybody)');
  }
  return queries.map((query) => [...query, PERSON_FILTER, ...extraFilters]);
}

/** What one query of a search returned. */
export interface QueryOutcome {
  users: CernIdentity[];
  /** `pagination.total` of the query, when the API gave it. */
  total: number | undefined;
  /** True when every page was read (not cut short by the limit). */
  complete: boolean;
}

/**
 * Merges query outcomes in query order, de-duplicated by login (case-insensitive), capped at
 * `limit`. `total` is exact when every query was read completely; otherwise it is the best
 * known lower bound: the larger of the distinct users seen and the largest single query total.
 */
export function mergeOutcomes(
  outcomes: readonly QueryOutcome[],
  limit: number | undefined,
): UserSearchResult {
  const seen = new Set<string>();
  const users: CernIdentity[] = [];
  for (const outcome of outcomes) {
    for (const user of outcome.users) {
      const key = user.login.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      users.push(user);
    }
  }
  const complete = outcomes.every((outcome) => outcome.complete);
  const largestQuery = Math.max(0, ...outcomes.map((outcome) => outcome.total ?? 0));
  const total = complete ? users.length : Math.max(users.length, largestQuery);
  return { users: limit === undefined ? users : users.slice(0, limit), total };
}

/** Checks a search result read back from the cache store. */
export function isUserSearchResult(value: unknown): value is UserSearchResult {
  if (typeof value !== 'object' || value === null) return false;
  const result = value as Partial<Record<keyof UserSearchResult, unknown>>;
  return Array.isArray(result.users) && typeof result.total === 'number';
}
