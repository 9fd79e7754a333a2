/**
 * A person (or account) as the CERN Authorization Service knows it, with friendly field names.
 * Absent fields are omitted, never `null`.
 */
export interface CernIdentity {
  /** The AuthZ identity `id` (a UUID), when the API returned one. */
  id?: string;
  /** CERN login (the AuthZ `upn`); eduGAIN logins may contain `/` or `@`. */
  login: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  /** `primaryAccountEmail`. */
  email?: string;
  /** `instituteName`, e.g. `CERN`. */
  affiliation?: string;
  /**
   * `telephone1`. As in Flask-Multipass-CERN, a number that does not start with `+` gets
   * `phonePrefix` (default `+412276`) prepended: `71234` becomes `+41227671234`.
   */
  phone?: string;
  /** CERN person id; absent for guests, eduGAIN and service accounts. */
  personId?: number;
  /**
   * The AuthZ fields named by the `identityFields` option, raw as the API returned them (absent
   * ones omitted). A null-prototype object: read it with `Object.hasOwn` or `in`, never
   * assuming `Object.prototype` methods. Present only when `identityFields` is set.
   */
  fields?: Readonly<Record<string, unknown>>;
}

/** Fields `searchUsers()` can match; each takes one value or several (any of them, OR). */
export type UserSearchField = 'login' | 'email' | 'firstName' | 'lastName' | 'displayName' | 'affiliation';

/**
 * `searchUsers()` criteria: every given field must match (AND); a field given several values
 * matches any of them (OR, run as separate API queries since the API has no OR).
 */
export type UserSearchCriteria = Partial<Record<UserSearchField, string | readonly string[]>>;

export interface UserSearchOptions {
  /** Match whole values (`eq`) instead of substrings (`contains`). Default false. Case-insensitive either way. */
  exact?: boolean;
  /** Most users returned. Default: every match, across all pages. */
  limit?: number;
}

export interface UserSearchResult {
  users: CernIdentity[];
  /**
   * Distinct matches known: exact when every page was read; when `limit` cut the search
   * short, at least `users.length` and at least the API's count for the largest single query.
   */
  total: number;
}

/** An e-group as listed by `iterateGroups()`. */
export interface CernGroup {
  /** The group's name (`groupIdentifier`), e.g. `it-dep`. */
  id: string;
  displayName?: string;
  description?: string;
}

/** What `onProgress` of `iterateIdentities()` / `iterateGroups()` receives after each complete page. */
export interface IterationProgress {
  /** Pages completed by this iteration (not counting those before `after`). */
  pages: number;
  /** Items yielded by this iteration so far. */
  items: number;
  /**
   * Opaque resume cursor: pass it as `after` to continue with the next page (nothing repeated,
   * nothing skipped). `null` after the last page. Store it with the items of the page.
   */
  cursor: string | null;
}

/** Options of `iterateIdentities()` / `iterateGroups()`. */
export interface IterateOptions {
  /** A `cursor` from `onProgress` of an earlier iteration with the same filters: resume there. */
  after?: string | undefined;
  /** Called (and awaited) after each complete page, once its items were taken. */
  onProgress?: ((progress: IterationProgress) => void | Promise<void>) | undefined;
}

/**
 * Everything the library needs from CERN's Authorization Service API and Keycloak's token
 * endpoints. Created by `createIdentityProvider()`, or available as `sso.identity`.
 *
 * Outages (5xx, timeouts, refused connections, token endpoint down) reject with a 503
 * `CernSsoError` (`ERR_UPSTREAM_UNAVAILABLE`, with `Retry-After`) unless stale cached data can
 * be served instead.
 */
export interface IdentityProvider {
  /**
   * The user's e-groups (precomputed, i.e. including nested groups), plus `CERN Users` when
   * the user is in `cernUsersGroup`. An unknown login has no groups (`[]`). Cached.
   */
  getUserGroups(login: string): Promise<string[]>;
  /** Whether the user is in `group` (case-insensitive; `CERN Users` is the `cernUsersGroup` alias). */
  isMember(login: string, group: string): Promise<boolean>;
  /** The identity of `login`, or `null` when the API does not know it. Cached. */
  getUser(login: string): Promise<CernIdentity | null>;
  /** Searches persons (`type:eq:Person` and `extraSearchFilters` always apply). Cached. */
  searchUsers(criteria: UserSearchCriteria, options?: UserSearchOptions): Promise<UserSearchResult>;
  /**
   * Names of groups whose name contains (or, with `exact`, equals) `query`, plus `CERN Users`
   * when `cernUsersGroup` is set and `query` equals the alias or (not `exact`) is part of it,
   * as in Flask-Multipass-CERN. Cached.
   */
  searchGroups(query: string, options?: { exact?: boolean }): Promise<string[]>;
  /**
   * Members of `group`, nested groups included; an unknown group has none (`[]`). `CERN Users`
   * lists the members of `cernUsersGroup` when it is set. Cached.
   */
  getGroupMembers(group: string): Promise<CernIdentity[]>;
  /**
   * Every identity matching the AuthZ `filters` (`field:op:value`, AND-ed), page by page, for
   * sync jobs. Not cached. A page failing with an outage (no answer, 5xx, 429) is retried 3 times
   * with backoff (honouring `Retry-After`, at most 30 s); then the iteration rejects with 503.
   * `onProgress` gets a cursor after each page; `after` resumes from one.
   * @throws CernSsoError `ERR_BAD_REQUEST` at the call for a bad filter or cursor.
   */
  iterateIdentities(filters?: readonly string[], options?: IterateOptions): AsyncIterable<CernIdentity>;
  /** Every group matching `filters`, page by page, like `iterateIdentities()`. Not cached. */
  iterateGroups(filters?: readonly string[], options?: IterateOptions): AsyncIterable<CernGroup>;
  /**
   * A service token of this application from Keycloak's API-access endpoint (client credentials)
   * for `audience` (default `authorization-service-api`, the Authorization Service API; another
   * application's client id to call its API). Cached per audience until `expires_in` minus 30 s
   * (shared via the cache store); concurrent calls for one audience share one request.
   */
  getApiToken(audience?: string): Promise<string>;
  /**
   * The identity whose `personId` is `personId` (a positive integer, or its digits as a string),
   * or `null` when the API knows none. The `Person` account wins when several accounts share the
   * person id. Cached like `getUser`. A bad id is a 400 `ERR_BAD_REQUEST`.
   */
  getUserByPersonId(personId: number | string): Promise<CernIdentity | null>;
  /**
   * The identity whose `primaryAccountEmail` is `email` (case-insensitive), or `null`. The
   * `Person` account wins when several share the address. Cached like `getUser`. An argument that
   * is not an e-mail address is a 400 `ERR_BAD_REQUEST`.
   */
  getUserByEmail(email: string): Promise<CernIdentity | null>;
  /**
   * The e-group `name` (case-insensitive; `CERN Users` stands for `cernUsersGroup`) with its
   * title and description, e.g. to show next to its name, or `null` when it does not exist.
   * Cached like `getUser`.
   */
  getGroup(name: string): Promise<CernGroup | null>;
  /** RFC 8693: exchanges a user's access token for one whose audience is `audience`. Cached until expiry. */
  exchangeToken(subjectToken: string, audience: string): Promise<string>;
  /**
   * Stores `groups` as the user's fresh group data, e.g. from an ID token `groups` claim, so that
   * `getUserGroups()` needs no API call. Entries containing `|` are dropped.
   */
  seedUserGroups(login: string, groups: readonly string[]): Promise<void>;
  /** Releases sockets. The cache store is the caller's and stays open. */
  close(): Promise<void>;
}
