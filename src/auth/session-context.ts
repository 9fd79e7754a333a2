import type { Request } from 'express';
import {
  kIdentity,
  kInGroupSync,
  kLogger,
  kLoginPath,
  type ContextIdentity,
  type InternalContext,
} from '../context.js';
import { matchesSet, normalizeRequirement, type MatchMode, type MatchOptions } from '../guards/match.js';
import {
  cleanGroupNames,
  createGroupSets,
  hasGroupSets,
  kUserGroupSet,
  kUserGroupSetSync,
  withCernUsersAlias,
} from '../identity/group-names.js';
import type { Logger } from '../logger.js';
import { getSessionAccessToken, notAuthenticated } from './refresh.js';
import { appPath, type AuthRuntime } from './runtime.js';
import type { SignedIn } from './session-data.js';
import { userFromClaims, type CernClaims, type CernUser } from './user.js';

const claimSets = new WeakMap<AuthRuntime, (groups: readonly unknown[]) => ReadonlySet<string>>();

/** Group sets of `groups` claims, per `cernSso()` (each has its own `cernUsersGroup`). */
function claimGroupSets(runtime: AuthRuntime): (groups: readonly unknown[]) => ReadonlySet<string> {
  let sets = claimSets.get(runtime);
  if (!sets) {
    sets = createGroupSets(runtime.config.cernUsersGroup);
    claimSets.set(runtime, sets);
  }
  return sets;
}

/**
 * `req.sso` for session (browser) requests. A class, not a closure bag: it is created on every
 * request, so it allocates one object and maps the user only when asked.
 */
export class SessionContext implements InternalContext {
  /** The sign-in of this request (set by `cernSso()` once loaded; replaced by a refresh). */
  signedIn: SignedIn | undefined;
  #user: { claims: CernClaims; user: CernUser | undefined } | undefined;

  constructor(
    readonly req: Request,
    readonly runtime: AuthRuntime,
  ) {}

  get [kLoginPath](): string | undefined {
    const login = this.runtime.config.routes.login;
    return login === false ? undefined : appPath(this.runtime, login);
  }

  get [kIdentity](): ContextIdentity {
    return this.runtime.identity;
  }

  get [kLogger](): Logger {
    return this.runtime.config.logger;
  }

  isAuthenticated(): boolean {
    return this.signedIn !== undefined;
  }

  get claims(): CernClaims | undefined {
    return this.signedIn?.auth.claims;
  }

  get user(): CernUser | undefined {
    const claims = this.signedIn?.auth.claims;
    if (!claims) return undefined;
    if (this.#user?.claims !== claims) this.#user = { claims, user: userFromClaims(claims) };
    return this.#user.user;
  }

  getAccessToken(): Promise<string> {
    return getSessionAccessToken(this);
  }

  async groups(): Promise<string[]> {
    const user = this.user;
    const claims = this.claims;
    if (!user || !claims) throw notAuthenticated();
    // Keycloak's `groups` claim, when enabled for the app, is authoritative: no AuthZ call.
    if (Array.isArray(claims.groups)) {
      return withCernUsersAlias(cleanGroupNames(claims.groups), this.runtime.config.cernUsersGroup);
    }
    return this.runtime.identity.getUserGroups(user.login);
  }

  async inGroup(group: string | readonly string[], options?: MatchOptions): Promise<boolean> {
    const { values, match } = normalizeRequirement('inGroup', group, options);
    if (!this.isAuthenticated()) return false;
    return matchesSet(await this.#groupSet(), values, match);
  }

  [kInGroupSync](values: readonly string[], match: MatchMode): boolean | undefined {
    const { user, claims, runtime } = this;
    if (!user || !claims) return undefined;
    let owned: ReadonlySet<string> | undefined;
    if (Array.isArray(claims.groups)) owned = claimGroupSets(runtime)(claims.groups);
    else if (hasGroupSets(runtime.identity)) owned = runtime.identity[kUserGroupSetSync](user.login);
    return owned === undefined ? undefined : matchesSet(owned, values, match);
  }

  /** The groups as lower-case names, memoised per group list (a guard runs on every request). */
  async #groupSet(): Promise<ReadonlySet<string>> {
    const { user, claims, runtime } = this;
    if (!user || !claims) throw notAuthenticated();
    if (Array.isArray(claims.groups)) return claimGroupSets(runtime)(claims.groups);
    const { identity } = runtime;
    if (hasGroupSets(identity)) return identity[kUserGroupSet](user.login);
    return new Set((await identity.getUserGroups(user.login)).map((name) => name.toLowerCase()));
  }

  async exchangeToken(audience: string): Promise<string> {
    const accessToken = await this.getAccessToken();
    return this.runtime.identity.exchangeToken(accessToken, audience);
  }
}
