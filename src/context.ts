import type { Request } from 'express';
import type { CernSsoError } from './errors.js';
import type { Logger } from './logger.js';
import type { EmitEvent, kEmitEvent } from './events.js';

// The types `req.sso` hands out live here, so that every area can use them without importing
// another area (auth, guards, identity and bearer all import this module).

/** The signed-in CERN user, mapped from the ID token (or access token) claims. */
export interface CernUser {
  /** CERN login (`cern_upn`, else `sub`). eduGAIN logins may contain `/`. */
  login: string;
  /**
   * The token's issuer (`iss`): a person is identified by `(issuer, login)`, never by `login`
   * alone, since another trusted issuer may name a different person `jdoe`. For session users,
   * the ID token's issuer (the one of `cernSso()`); for bearer users, the access token's.
   * Empty only when claims without `iss` are mapped outside `req.sso` (e.g. the CLI).
   */
  issuer: string;
  /** CERN person id (`cern_person_id`); absent for guests and eduGAIN users. */
  personId?: number;
  email?: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  /** `EN` or `FR`. */
  preferredLanguage?: string;
  /** Application Portal roles of this application (`cern_roles`). */
  roles: string[];
  /**
   * The kind of account, only where CERN's (or Keycloak's) documentation says how to tell;
   * absent otherwise (README, "Account kinds"): `'person'` with a `cern_person_id`, `'service'`
   * for a client-credentials token (`preferred_username` `service-account-<client>`),
   * `'external'` for a login scoped to an identity provider (eduGAIN, social: `...@google`,
   * `...@unibe.ch`, or containing `/`). `'guest'` is reserved: no claim tells guests apart.
   */
  accountType?: 'person' | 'guest' | 'external' | 'service';
}

/** Validated token claims (ID token in sessions, access token on bearer routes). */
export type CernClaims = Record<string, unknown> & { sub?: string; iss?: string };

/** How many of the listed groups/roles/values are needed: any one, all, or at least `n`. */
export type MatchMode = 'any' | 'all' | number;

export interface MatchOptions {
  /** Default `'any'`. */
  match?: MatchMode;
}

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
 * Renders the HTML page of a library error for a browser: `(error, req) => html`, or `undefined`
 * for the built-in page. `error.status` and `error.headers` are sent whatever it returns;
 * `error.expose` says whether `error.message` may be shown to the user.
 */
export type RenderError = (error: CernSsoError, req: Request) => string | undefined;

/**
 * Internal: the `renderError` option of the `cernSso()` that set `req.sso`, so that every HTML
 * error page for that app (routes, guards, `cernSsoErrorHandler()`) uses it. Not public API.
 */
export const kRenderError = Symbol('express-cern-sso.renderError');

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

/**
 * Internal: what `requireAuth({ maxAgeSec, acr })` needs besides the claims: the clock of the
 * `cernSso()` or `bearerAuth()` that set `req.sso` and, for sessions, when the callback ran and
 * what that login asked for (`max_age`, `acr_values`), to tell a step-up loop. Not public API.
 */
export const kSignIn = Symbol('express-cern-sso.signIn');

/** See {@link kSignIn}. */
export interface SignInFacts {
  /** Now, by the clock of `cernSso()` / `bearerAuth()` (epoch ms). */
  now: number;
  /** Session only: when the callback ran (epoch ms). */
  loggedInAt?: number | undefined;
  /** Session only: the `max_age` / `acr_values` the login's authorization request carried. */
  askedFor?: { maxAge?: number; acrValues?: string } | undefined;
}

/** What `req.sso` needs from an identity provider (`IdentityProvider`): groups and token exchange. */
export interface ContextIdentity {
  getUserGroups(login: string): Promise<string[]>;
  exchangeToken(subjectToken: string, audience: string): Promise<string>;
  /** The identity provider's own issuer, when it says (see {@link kIssuer}). */
  readonly [kIssuer]?: string | undefined;
}

export interface InternalContext extends CernSsoContext {
  /** Absolute path of the login route, or undefined (bearer routes, login route disabled). */
  [kLoginPath]?: string | undefined;
  /** The identity provider of the `cernSso()` (or `bearerAuth()`) that set this context. */
  [kIdentity]?: ContextIdentity | undefined;
  /** The logger of the `cernSso()` (or `bearerAuth()`) that set this context. */
  [kLogger]?: Logger | undefined;
  /** The `renderError` option of the `cernSso()` that set this context. */
  [kRenderError]?: RenderError | undefined;
  /** The issuer of the identity provider of the `cernSso()` that set this context. */
  [kIssuer]?: string | undefined;
  /** The `onEvent` emitter of the `cernSso()` (or `bearerAuth()`) that set this context. */
  [kEmitEvent]?: EmitEvent | undefined;
  [kBearer]?: true;
  [kSignIn]?: () => SignInFacts;
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
