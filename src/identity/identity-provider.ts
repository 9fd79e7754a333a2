import type { OidcDiscovery } from '../auth/discovery.js';
import {
  cleanGroupNames,
  createGroupSets,
  type GroupSetSource,
  isStringArray,
  kUserGroupSet,
  kUserGroupSetSync,
  sameGroup,
  withCernUsersAlias,
} from '../auth/group-names.js';
import { issuerDiscovery } from '../auth/issuer-registry.js';
import { createCachedLoader } from '../cache/cached-loader.js';
import { cacheKey, hashedCacheKey, sha256 } from '../cache/keys.js';
import {
  clockNow,
  resolveIdentityConfig,
  type IdentityProviderOptions,
  type ResolvedIdentityConfig,
} from '../config.js';
import { kIssuer } from '../context.js';
import { createApiTokenSource } from './api-token.js';
import { createAuthzClient, pathSegment, type QueryParams } from './authz-client.js';
import { cernUsersAlias } from './cern-users-alias.js';
import {
  copyIdentity,
  IDENTITY_API_FIELDS,
  isCernIdentity,
  toCernIdentities,
  toCernGroup,
  toCernIdentity,
  GROUP_API_FIELDS,
} from './identity-mapping.js';
import { createIdentityLookups } from './lookups.js';
import { checkIterateOptions, iterateListing } from './iteration.js';
import type { PageRetryPolicy } from './page-retry.js';
import { sleep } from '../single-flight.js';
import { createTokenExchanger } from './token-exchange.js';
import type { CernIdentity, IdentityProvider, UserSearchResult } from './types.js';
import { isUserSearchResult, mergeOutcomes, planUserSearch, type QueryOutcome } from './user-search.js';
import { badInput, optionalLimit, requireFilters, requireName, requireSearchValue } from './validation.js';

/** Not part of the public options: `cernSso()` shares its discovery (one request, one retry state). */
interface IdentityProviderInternals {
  discovery?: OidcDiscovery;
  /** Tests: the wait between retries of a failed listing page. */
  sleep?: (ms: number) => Promise<void>;
}

/** Most API queries of one `searchUsers()` call run at once. */
const SEARCH_CONCURRENCY = 4;
/** Page size of full listings (the API's maximum). */
const FULL_PAGE_SIZE = 1000;
/** Default per-page timeout of searches and iterations (at least `httpTimeoutMs`). */
const SEARCH_TIMEOUT_MS = 30_000;

/** `field=` parameters of identity requests: the library's fields, then `identityFields`. */
function identityQuery(extra: readonly string[]): QueryParams {
  return [...new Set([...IDENTITY_API_FIELDS, ...extra])].map((name) => ['field', name] as const);
}
const groupFields: QueryParams = GROUP_API_FIELDS.map((name) => ['field', name] as const);

function filterParams(filters: readonly string[]): QueryParams {
  return filters.map((filter) => ['filter', filter] as const);
}

/** Runs `task` over `items` with at most `concurrency` at a time; results in input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/**
 * Creates the identity provider: the CERN Authorization Service API (groups, users, searches,
 * group members, full listings) and Keycloak token services (API token, token exchange), with
 * group data and search results cached (fresh for `groupsTtlMs`, then served stale for up to
 * `staleTtlMs` while the API is down). Usable without Express, e.g. in a sync job.
 *
 * @param options Identity options (see the README); `CERN_SSO_*` environment fallbacks apply.
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option.
 */
export function createIdentityProvider(options: IdentityProviderOptions = {}): IdentityProvider {
  return buildIdentityProvider(resolveIdentityConfig(options));
}

/**
 * {@link createIdentityProvider} from an already validated configuration: `cernSso()` passes its
 * resolved config (a superset) and its discovery, so nothing is validated or discovered twice.
 * @internal
 */
export function buildIdentityProvider(
  config: ResolvedIdentityConfig,
  internals: IdentityProviderInternals = {},
): IdentityProvider & GroupSetSource & { readonly [kIssuer]: string } {
  const { logger } = config;
  const now = clockNow(config.clock);
  const discovery =
    internals.discovery ??
    issuerDiscovery({
      issuer: config.issuer,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      httpTimeoutMs: config.httpTimeoutMs,
      logger,
      now,
    });
  const loader = createCachedLoader({
    store: config.cache,
    logger,
    now,
    // A load holds the cross-instance lock at most as long as its HTTP calls may take.
    lockTtlMs: 2 * config.httpTimeoutMs,
  });
  const tokens = createApiTokenSource({
    discovery,
    issuer: config.issuer,
    clientId: config.clientId,
    apiTokenEndpoint: config.apiTokenEndpoint,
    loader,
    logger,
    now,
  });
  const exchangeToken = createTokenExchanger({
    discovery,
    issuer: config.issuer,
    clientId: config.clientId,
    loader,
    logger,
    now,
  });
  const api = createAuthzClient({
    baseUrl: config.authzApiUrl,
    tokens,
    timeoutMs: config.httpTimeoutMs,
    // Searches and sync-job iterations may be slow at the AuthZ API; lookups a guard waits for are not.
    listTimeoutMs: config.searchTimeoutMs ?? Math.max(SEARCH_TIMEOUT_MS, config.httpTimeoutMs),
    logger,
  });
  const freshMs = config.groupsTtlMs;
  const staleMs = config.staleTtlMs;
  const phonePrefix = config.phonePrefix;
  const extraFields = config.identityFields;
  const identityFields = identityQuery(extraFields);
  // Identities cached with other `identityFields` (another app on the same Redis) lack fields.
  const fieldsTag = extraFields.length === 0 ? '' : `~${sha256(extraFields.join(',')).slice(0, 16)}`;
  const cernUsers = cernUsersAlias(config.cernUsersGroup);
  const lookups = createIdentityLookups({
    api,
    loader,
    freshMs,
    staleMs,
    identityQuery: identityFields,
    mapIdentity: (row) => toCernIdentity(row, phonePrefix, extraFields),
    resolveGroup: cernUsers.resolve,
    keyTag: fieldsTag,
  });

  /** Rows of every page (or until `limit` mapped identities), with completeness and total. */
  async function collectIdentities(path: string, query: QueryParams, limit?: number): Promise<QueryOutcome> {
    const pageSize = Math.min(limit ?? FULL_PAGE_SIZE, FULL_PAGE_SIZE);
    const rows: unknown[] = [];
    let total: number | undefined;
    let complete = true;
    for await (const page of api.pages(path, query, { pageSize })) {
      total ??= page.total;
      rows.push(...page.rows);
      if (
        limit !== undefined &&
        !page.last &&
        toCernIdentities(rows, phonePrefix, extraFields).length >= limit
      ) {
        complete = false;
        break;
      }
    }
    return { users: toCernIdentities(rows, phonePrefix, extraFields), total, complete };
  }

  /** Every row of every page; `timeoutMs` per page (default: the search timeout). */
  async function collectRows(path: string, query: QueryParams, timeoutMs?: number): Promise<unknown[]> {
    const rows: unknown[] = [];
    const pageOptions = { pageSize: FULL_PAGE_SIZE, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    for await (const page of api.pages(path, query, pageOptions)) rows.push(...page.rows);
    return rows;
  }

  function groupIdentifiers(rows: readonly unknown[]): unknown[] {
    return rows.map((row) =>
      typeof row === 'object' && row !== null
        ? (row as { groupIdentifier?: unknown }).groupIdentifier
        : undefined,
    );
  }

  // A guard asks for the same few users' groups on every request: build each key once.
  const groupKeys = new Map<string, string>();
  const groupsKey = (login: string): string => {
    let key = groupKeys.get(login);
    if (key === undefined) {
      if (groupKeys.size >= 10_000) groupKeys.clear();
      key = cacheKey('groups', login);
      groupKeys.set(login, key);
    }
    return key;
  };

  async function userGroups(login: string): Promise<string[]> {
    return loader.get<string[]>({
      key: groupsKey(login),
      description: `groups of ${login}`,
      freshMs,
      staleMs,
      isValid: isStringArray,
      load: async () => {
        const rows = await collectRows(
          `/IdentityMembership/${pathSegment(login)}/precomputed`,
          [['field', 'groupIdentifier']],
          config.httpTimeoutMs,
        );
        return cleanGroupNames(groupIdentifiers(rows));
      },
    });
  }

  const pageRetry: PageRetryPolicy = {
    retries: 3,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    sleep: internals.sleep ?? sleep,
    random: Math.random,
  };

  const groupSets = createGroupSets(config.cernUsersGroup);

  return {
    // bearerAuth() gives AuthZ data only to tokens of this issuer (identity is (iss, sub)).
    [kIssuer]: config.issuer,

    async [kUserGroupSet](login: string): Promise<ReadonlySet<string>> {
      // The list object is the cached one (memory store): its set is computed once.
      return groupSets(await userGroups(requireName('getUserGroups', 'login', login)));
    },

    [kUserGroupSetSync](login: string): ReadonlySet<string> | undefined {
      if (typeof login !== 'string' || login.trim() === '') return undefined;
      const hit = loader.peek(groupsKey(login.trim()), isStringArray);
      return hit === undefined ? undefined : groupSets(hit.value);
    },

    async getUserGroups(login) {
      const name = requireName('getUserGroups', 'login', login);
      return withCernUsersAlias(await userGroups(name), config.cernUsersGroup);
    },

    async isMember(login, group) {
      const name = requireName('isMember', 'login', login);
      const wanted = requireName('isMember', 'group', group);
      const memberships = withCernUsersAlias(await userGroups(name), config.cernUsersGroup);
      return memberships.some((candidate) => sameGroup(candidate, wanted));
    },

    async getUser(login) {
      const name = requireName('getUser', 'login', login);
      const user = await loader.get<CernIdentity | null>({
        key: cacheKey(`user${fieldsTag}`, name),
        description: `identity of ${name}`,
        freshMs,
        staleMs,
        isValid: (value): value is CernIdentity | null => value === null || isCernIdentity(value),
        load: async () => {
          const data = await api.getData(`/Identity/${pathSegment(name)}`, identityFields);
          return toCernIdentity(Array.isArray(data) ? data[0] : data, phonePrefix, extraFields);
        },
      });
      return user === null ? null : copyIdentity(user);
    },

    async searchUsers(criteria, searchOptions = {}) {
      if (typeof searchOptions !== 'object') throw badInput('searchUsers', 'options must be an object');
      const exact = searchOptions.exact === true;
      const limit = optionalLimit('searchUsers', searchOptions.limit);
      const plan = planUserSearch(criteria, exact, config.extraSearchFilters);
      const result = await loader.get<UserSearchResult>({
        key: hashedCacheKey(`user-search${fieldsTag}`, { plan, limit: limit ?? null }),
        description: 'user search results',
        freshMs,
        staleMs,
        isValid: isUserSearchResult,
        load: async () => {
          const outcomes = await mapConcurrently(plan, SEARCH_CONCURRENCY, (filters) =>
            collectIdentities('/Identity', [...filterParams(filters), ...identityFields], limit),
          );
          return mergeOutcomes(outcomes, limit);
        },
      });
      return { users: result.users.map(copyIdentity), total: result.total };
    },

    async searchGroups(query, searchOptions = {}) {
      const value = requireSearchValue('searchGroups', 'query', query);
      const op = searchOptions.exact === true ? 'eq' : 'contains';
      const found = await loader.get<string[]>({
        key: cacheKey('group-search', op, value.toLowerCase()),
        description: 'group search results',
        freshMs,
        staleMs,
        isValid: isStringArray,
        load: async () => {
          const rows = await collectRows('/Group', [
            ['filter', `groupIdentifier:${op}:${value}`],
            ['field', 'groupIdentifier'],
          ]);
          return cleanGroupNames(groupIdentifiers(rows));
        },
      });
      return cernUsers.withSearchAlias(found, value, op === 'eq');
    },

    async getGroupMembers(group) {
      // `CERN Users` lists the members of `cernUsersGroup`, as in Flask-Multipass-CERN.
      const name = cernUsers.resolve(requireName('getGroupMembers', 'group', group));
      const members = await loader.get<CernIdentity[]>({
        key: cacheKey(`group-members${fieldsTag}`, name.toLowerCase()),
        description: `members of ${name}`,
        freshMs,
        staleMs,
        isValid: (value): value is CernIdentity[] => Array.isArray(value) && value.every(isCernIdentity),
        load: async () => {
          const rows = await collectRows(
            `/Group/${pathSegment(name)}/memberidentities/precomputed`,
            identityFields,
            config.httpTimeoutMs,
          );
          return toCernIdentities(rows, phonePrefix, extraFields);
        },
      });
      return members.map(copyIdentity);
    },

    iterateIdentities(filters, iterateOptions) {
      // Validated now, so a bad filter or cursor fails at the call, not at the first `next()`.
      const method = 'iterateIdentities';
      const spec = {
        method,
        path: '/Identity',
        filters: requireFilters(method, filters),
        fields: identityFields,
        map: (row: unknown) => toCernIdentity(row, phonePrefix, extraFields),
      };
      return iterateListing(api, spec, checkIterateOptions(method, iterateOptions), pageRetry);
    },

    iterateGroups(filters, iterateOptions) {
      const method = 'iterateGroups';
      const spec = {
        method,
        path: '/Group',
        filters: requireFilters(method, filters),
        fields: groupFields,
        map: toCernGroup,
      };
      return iterateListing(api, spec, checkIterateOptions(method, iterateOptions), pageRetry);
    },

    getApiToken(audience) {
      return tokens.get(audience);
    },

    getUserByPersonId: lookups.getUserByPersonId,
    getUserByEmail: lookups.getUserByEmail,
    getGroup: lookups.getGroup,

    exchangeToken(subjectToken, audience) {
      return exchangeToken(subjectToken, audience);
    },

    async seedUserGroups(login, groupList) {
      const name = requireName('seedUserGroups', 'login', login);
      if (!Array.isArray(groupList)) throw badInput('seedUserGroups', 'groups must be an array of strings');
      await loader.set(groupsKey(name), cleanGroupNames(groupList), freshMs, staleMs);
    },

    close() {
      api.close();
      return Promise.resolve();
    },
  };
}
