import type { Request } from 'express';
import {
  kIdentity,
  kInGroupSync,
  kIssuer,
  kLogger,
  kLoginPath,
  kRenderError,
  kSignIn,
  type ContextIdentity,
  type SignInFacts,
  type RenderError,
  type InternalContext,
} from '../context.js';
import { matchesSet, normalizeRequirement, type MatchMode, type MatchOptions } from '../guards/match.js';
import {
  cleanGroupNames,
  hasGroupSets,
  kUserGroupSet,
  kUserGroupSetSync,
  withCernUsersAlias,
} from './group-names.js';
import { notAuthenticated } from '../errors.js';
import { kEmitEvent, type EmitEvent } from '../events.js';
import type { Logger } from '../logger.js';
import { getSessionAccessToken } from './refresh.js';
import { appPath, type AuthRuntime } from './runtime.js';
import type { SignedIn } from './session-data.js';
import { userFromClaims, type CernClaims, type CernUser } from './user.js';

/**
 * `req.sso` for session (browser) requests. A class, not a closure bag: it is created on every
 * request, so it allocates one object and maps the user only when asked.
 */
export class SessionContext implements InternalContext {
  /** The sign-in of this request (set by `cernSso()` once loaded; replaced by a refresh). */
  signedIn: SignedIn | undefined;

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

  /** The issuer of this `cernSso()`: its identity provider's, and its users'. */
  get [kIssuer](): string {
    return this.runtime.config.issuer;
  }

  get [kLogger](): Logger {
    return this.runtime.config.logger;
  }

  get [kEmitEvent](): EmitEvent {
    return this.runtime.emit;
  }

  get [kRenderError](): RenderError | undefined {
    return this.runtime.config.renderError;
  }

  [kSignIn](): SignInFacts {
    const auth = this.signedIn?.auth;
    return { now: this.runtime.now(), loggedInAt: auth?.loggedInAt, askedFor: auth?.askedFor };
  }

  isAuthenticated(): boolean {
    return this.signedIn !== undefined;
  }

  get claims(): CernClaims | undefined {
    return this.signedIn?.auth.claims;
  }

  get user(): CernUser | undefined {
    // Memoised per claims object by userFromClaims (held records are reused across requests).
    return userFromClaims(this.signedIn?.auth.claims);
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
    const owned = this.#groupSetAtHand();
    return owned === undefined ? undefined : matchesSet(owned, values, match);
  }

  /** The groups as lower-case names without I/O: the `groups` claim, or a fresh in-process entry. */
  #groupSetAtHand(): ReadonlySet<string> | undefined {
    const { user, claims, runtime } = this;
    if (!user || !claims) return undefined;
    if (Array.isArray(claims.groups)) return runtime.claimGroupSets(claims.groups);
    return hasGroupSets(runtime.identity) ? runtime.identity[kUserGroupSetSync](user.login) : undefined;
  }

  /** The groups as lower-case names, memoised per group list (a guard runs on every request). */
  async #groupSet(): Promise<ReadonlySet<string>> {
    const atHand = this.#groupSetAtHand();
    if (atHand) return atHand;
    const user = this.user;
    if (!user) throw notAuthenticated();
    const { identity } = this.runtime;
    if (hasGroupSets(identity)) return identity[kUserGroupSet](user.login);
    return new Set((await identity.getUserGroups(user.login)).map((name) => name.toLowerCase()));
  }

  async exchangeToken(audience: string): Promise<string> {
    const accessToken = await this.getAccessToken();
    return this.runtime.identity.exchangeToken(accessToken, audience);
  }
}
