import { userFromClaims, type CernClaims, type CernUser } from '../auth/user.js';
import { cleanGroupNames, hasGroupSets, kUserGroupSetSync, withCernUsersAlias } from '../auth/group-names.js';
import {
  kBearer,
  kIdentity,
  kInGroupSync,
  kIssuer,
  kLogger,
  kLoginPath,
  kSignIn,
  type ContextIdentity,
  type InternalContext,
  type SignInFacts,
} from '../context.js';
import { bearerChallenge } from '../challenge.js';
import { configError, forbidden, type CernSsoError } from '../errors.js';
import { kEmitEvent, type EmitEvent } from '../events.js';
import {
  matches,
  matchesSet,
  normalizeRequirement,
  type MatchMode,
  type MatchOptions,
} from '../guards/match.js';
import type { Logger } from '../logger.js';
import type { BearerScope } from './issuer-choice.js';

function noIdentity(what: string): CernSsoError {
  return configError(
    `${what} on a bearer route needs an identity provider: pass bearerAuth({ identity }) ` +
      '(e.g. sso.identity or createIdentityProvider()) or mount cernSso() before bearerAuth()',
  );
}

/** Several trusted issuers and an identity provider that does not say which one it serves. */
function unknownIdentityIssuer(): CernSsoError {
  return configError(
    'requireGroup()/req.sso.groups() on a bearer route: bearerAuth() trusts several issuers and cannot ' +
      'tell which one the identity provider serves, so it asks the AuthZ API about nobody: use the identity ' +
      'provider of cernSso() or createIdentityProvider(), or a groups claim in the tokens',
  );
}

/** Token exchange at the identity provider's Keycloak is for its own tokens only. */
function foreignExchange(): CernSsoError {
  return forbidden(
    "req.sso.exchangeToken(): the access token is not from the identity provider's issuer, so it cannot be exchanged there",
  );
}

/** A valid token that names no user (no `sub`/`cern_upn`) has no groups: 403, not 401. */
function noUser(): CernSsoError {
  const message = 'The access token names no user (no sub), so it has no groups.';
  return forbidden(message, {
    bearer: true,
    headers: { 'WWW-Authenticate': bearerChallenge('insufficient_scope', message) },
  });
}

/**
 * `req.sso` for a request authenticated by a bearer access token. A class, not a closure bag (like
 * the session context): an API builds one per request. There is no login route (`kLoginPath`
 * undefined), so the guards answer 401/403 with RFC 6750 challenges instead of redirecting.
 * Groups come from the token's `groups` claim when present (no AuthZ call), else from the
 * identity provider, but only for tokens of the identity provider's own issuer: a token of
 * another trusted issuer that names `jdoe` is not CERN's jdoe, and without a `groups` claim it
 * has no groups. The token is a private field: logging or serialising `req.sso` never shows it.
 */
export class BearerContext implements InternalContext {
  readonly #token: string;
  readonly #scope: BearerScope;

  constructor(
    token: string,
    readonly claims: CernClaims,
    scope: BearerScope,
  ) {
    this.#token = token;
    this.#scope = scope;
  }

  get [kLoginPath](): undefined {
    return undefined;
  }

  // eslint-disable-next-line @typescript-eslint/class-literal-property-style -- on the prototype: nothing stored per request
  get [kBearer](): true {
    return true;
  }

  get [kIdentity](): ContextIdentity | undefined {
    return this.#scope.identity;
  }

  /** The issuer whose users the identity provider knows: only its tokens get AuthZ lookups. */
  get [kIssuer](): string | undefined {
    return this.#scope.identityIssuer;
  }

  get [kEmitEvent](): EmitEvent {
    return this.#scope.emit;
  }

  get [kLogger](): Logger {
    return this.#scope.settings.logger;
  }

  [kSignIn](): SignInFacts {
    return { now: this.#scope.settings.now() };
  }

  isAuthenticated(): boolean {
    return true;
  }

  get user(): CernUser | undefined {
    // Memoised per claims object by userFromClaims (a cached token's claims are reused).
    return userFromClaims(this.claims);
  }

  getAccessToken(): Promise<string> {
    return Promise.resolve(this.#token);
  }

  async groups(): Promise<string[]> {
    const { claims, user } = this;
    const { identity, identityIssuer, settings } = this.#scope;
    if (Array.isArray(claims.groups)) {
      return withCernUsersAlias(cleanGroupNames(claims.groups), settings.cernUsersGroup);
    }
    if (!user) throw noUser();
    if (!identity) throw noIdentity('requireGroup()/req.sso.groups()');
    if (identityIssuer === undefined) throw unknownIdentityIssuer();
    // Another issuer's "jdoe" is not CERN's jdoe: its groups come from its token alone.
    if (user.issuer !== identityIssuer) return [];
    return identity.getUserGroups(user.login);
  }

  async inGroup(group: string | readonly string[], options?: MatchOptions): Promise<boolean> {
    const { values, match } = normalizeRequirement('inGroup', group, options);
    return this[kInGroupSync](values, match) ?? matches(await this.groups(), values, match);
  }

  /** The `groups` claim, or the identity provider's fresh in-process entry; else `undefined`. */
  [kInGroupSync](values: readonly string[], match: MatchMode): boolean | undefined {
    const { claims } = this;
    const { identity, identityIssuer, settings } = this.#scope;
    if (Array.isArray(claims.groups))
      return matchesSet(settings.claimGroupSets(claims.groups), values, match);
    const user = this.user;
    // Every other case (no user, no identity, another issuer's user) is answered by groups().
    if (!user || !identity || user.issuer !== identityIssuer || !hasGroupSets(identity)) return undefined;
    const set = identity[kUserGroupSetSync](user.login);
    return set === undefined ? undefined : matchesSet(set, values, match);
  }

  async exchangeToken(audience: string): Promise<string> {
    const { identity, identityIssuer } = this.#scope;
    if (!identity) throw noIdentity('req.sso.exchangeToken()');
    if (identityIssuer !== undefined && this.claims.iss !== identityIssuer) throw foreignExchange();
    return identity.exchangeToken(this.#token, audience);
  }
}
