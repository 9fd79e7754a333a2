import { cleanGroupNames, withCernUsersAlias } from '../auth/group-names.js';
import { userFromClaims, type CernClaims } from '../auth/user.js';
import { bearerChallenge } from '../challenge.js';
import {
  kBearer,
  kIdentity,
  kIssuer,
  kLogger,
  kLoginPath,
  type ContextIdentity,
  type InternalContext,
} from '../context.js';
import { CernSsoError } from '../errors.js';
import { matches, normalizeRequirement, type MatchOptions } from '../guards/match.js';
import type { Logger } from '../logger.js';

/** What a bearer `req.sso` is made of. */
export interface BearerContextInput {
  /** The verified access token (handed back by `getAccessToken()`, never logged). */
  token: string;
  claims: CernClaims;
  identity: ContextIdentity | undefined;
  /**
   * The issuer whose users `identity` knows; `undefined` when it cannot be told. Only tokens of
   * this issuer get AuthZ lookups.
   */
  identityIssuer: string | undefined;
  cernUsersGroup: string | undefined;
  /** The logger of the `bearerAuth()`, used by the guards too. */
  logger: Logger;
}

function noIdentity(what: string): CernSsoError {
  return new CernSsoError(
    'ERR_CONFIG',
    `${what} on a bearer route needs an identity provider: pass bearerAuth({ identity }) ` +
      '(e.g. sso.identity or createIdentityProvider()) or mount cernSso() before bearerAuth()',
    { status: 500 },
  );
}

/** Several trusted issuers and an identity provider that does not say which one it serves. */
function unknownIdentityIssuer(): CernSsoError {
  return new CernSsoError(
    'ERR_CONFIG',
    'requireGroup()/req.sso.groups() on a bearer route: bearerAuth() trusts several issuers and cannot ' +
      'tell which one the identity provider serves, so it asks the AuthZ API about nobody: use the identity ' +
      'provider of cernSso() or createIdentityProvider(), or a groups claim in the tokens',
    { status: 500 },
  );
}

/** Token exchange at the identity provider's Keycloak is for its own tokens only. */
function foreignExchange(): CernSsoError {
  return new CernSsoError(
    'ERR_FORBIDDEN',
    "req.sso.exchangeToken(): the access token is not from the identity provider's issuer, so it cannot be exchanged there",
    { status: 403 },
  );
}

/** A valid token that names no user (no `sub`/`cern_upn`) has no groups: 403, not 401. */
function noUser(): CernSsoError {
  const message = 'The access token names no user (no sub), so it has no groups.';
  return new CernSsoError('ERR_FORBIDDEN', message, {
    status: 403,
    headers: { 'WWW-Authenticate': bearerChallenge('insufficient_scope', message) },
  });
}

/**
 * `req.sso` for a request authenticated by a bearer access token. There is no login route
 * (`kLoginPath` undefined), so the guards answer 401/403 with RFC 6750 challenges instead of
 * redirecting. Groups come from the token's `groups` claim when present (no AuthZ call), else
 * from the identity provider, but only for tokens of the identity provider's own issuer: a
 * token of another trusted issuer that names `jdoe` is not CERN's jdoe, and without a `groups`
 * claim it has no groups.
 */
export function createBearerContext(input: BearerContextInput): InternalContext {
  const { token, claims, identity, identityIssuer, cernUsersGroup, logger } = input;
  const user = userFromClaims(claims);
  const context: InternalContext = {
    [kLoginPath]: undefined,
    [kBearer]: true,
    [kIdentity]: identity,
    [kIssuer]: identityIssuer,
    [kLogger]: logger,
    isAuthenticated: () => true,
    user,
    claims,
    getAccessToken: () => Promise.resolve(token),
    async groups() {
      if (Array.isArray(claims.groups)) {
        return withCernUsersAlias(cleanGroupNames(claims.groups), cernUsersGroup);
      }
      if (!user) throw noUser();
      if (!identity) throw noIdentity('requireGroup()/req.sso.groups()');
      if (identityIssuer === undefined) throw unknownIdentityIssuer();
      // Another issuer's "jdoe" is not CERN's jdoe: its groups come from its token alone.
      if (user.issuer !== identityIssuer) return [];
      return identity.getUserGroups(user.login);
    },
    async inGroup(group: string | readonly string[], options?: MatchOptions) {
      const { values, match } = normalizeRequirement('inGroup', group, options);
      return matches(await context.groups(), values, match);
    },
    async exchangeToken(audience: string) {
      if (!identity) throw noIdentity('req.sso.exchangeToken()');
      if (identityIssuer !== undefined && claims.iss !== identityIssuer) throw foreignExchange();
      return identity.exchangeToken(token, audience);
    },
  };
  return context;
}
