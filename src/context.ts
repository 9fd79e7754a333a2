import type { CernClaims, CernUser } from './auth/user.js';
import type { MatchMode, MatchOptions } from './guards/match.js';
import type { IdentityProvider } from './identity/types.js';
import type { Logger } from './logger.js';

/**
 * `req.sso`: the CERN identity of the current request, set on every request by `cernSso()`
 * (session login) or `bearerAuth()` (API access tokens).
 */
export interface CernSsoContext {
  /** True when a user is signed in (or a valid bearer token was presented). */
  isAuthenticated(): boolean;
  /** The user, mapped from the CERN token claims; `undefined` when anonymous. */
  readonly user: CernUser | undefined;
  /** The validated ID token (or access token) claims; `undefined` when anonymous. */
  readonly claims: CernClaims | undefined;
  /** A valid access token, refreshed when expired (one refresh in flight per session). */
  getAccessToken(): Promise<string>;
  /** The user's e-groups: the token's `groups` claim when present, else the AuthZ API (cached). */
  groups(): Promise<string[]>;
  /** Group membership, case-insensitive; `match` is `'any'` (default), `'all'` or a minimum count. */
  inGroup(group: string | readonly string[], options?: MatchOptions): Promise<boolean>;
  /** An RFC 8693 token for another CERN API (`audience`), on behalf of the user. */
  exchangeToken(audience: string): Promise<string>;
}

/** Internal: where guards send anonymous browsers. Not part of the public API. */
export const kLoginPath = Symbol('express-cern-sso.loginPath');

/**
 * Internal: the identity provider behind `req.sso`, so that a `bearerAuth()` mounted after
 * `cernSso()` can use the same one (groups, token exchange). Not part of the public API.
 */
export const kIdentity = Symbol('express-cern-sso.identity');

/**
 * Internal: the logger of the `cernSso()` or `bearerAuth()` that set `req.sso`, so that guards log
 * where the application configured. Not part of the public API.
 */
export const kLogger = Symbol('express-cern-sso.logger');

/**
 * Internal: `inGroup()` answered synchronously when the user's groups are at hand (a `groups`
 * claim, or fresh in an in-process cache); `undefined` means "ask `inGroup()`". Lets
 * `requireGroup()` decide a warm request without a promise. `values` are already normalised.
 */
export const kInGroupSync = Symbol('express-cern-sso.inGroupSync');

/** Internal: set on contexts built by `bearerAuth()` (guards answer with RFC 6750 challenges). */
export const kBearer = Symbol('express-cern-sso.bearer');

/**
 * Internal: the issuer whose users the identity provider knows (its own OIDC issuer), on an
 * identity provider or on a context. `bearerAuth()` asks the AuthZ API only about users of
 * tokens from this issuer: a login means a CERN account only there. Not part of the public API.
 */
export const kIssuer = Symbol('express-cern-sso.issuer');

/** What `req.sso` needs from an identity provider: group lookups and token exchange. */
export type ContextIdentity = Pick<IdentityProvider, 'getUserGroups' | 'exchangeToken'> & {
  /** The identity provider's own issuer, when it says (see {@link kIssuer}). */
  readonly [kIssuer]?: string | undefined;
};

export interface InternalContext extends CernSsoContext {
  /** Absolute path of the login route, or undefined (bearer routes, login route disabled). */
  [kLoginPath]?: string | undefined;
  /** The identity provider of the `cernSso()` (or `bearerAuth()`) that set this context. */
  [kIdentity]?: ContextIdentity | undefined;
  /** The logger of the `cernSso()` (or `bearerAuth()`) that set this context. */
  [kLogger]?: Logger | undefined;
  /** The issuer of the identity provider of the `cernSso()` that set this context. */
  [kIssuer]?: string | undefined;
  [kBearer]?: true;
  [kInGroupSync]?: (values: readonly string[], match: MatchMode) => boolean | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's augmentation point
  namespace Express {
    interface Request {
      /** Set by `cernSso()` or `bearerAuth()`. */
      sso: CernSsoContext;
    }
  }
}
