/** A person (or service account) known to the emulator: both the SSO and the AuthZ API see it. */
export interface EmulatorUser {
  /** CERN login (`upn`, token `sub`). eduGAIN logins may contain `/`. */
  login: string;
  /** Password for the emulator's login form. Default `"demo"`. */
  password?: string;
  /** CERN person id; absent for guests and eduGAIN users. */
  personId?: number;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  email?: string;
  preferredLanguage?: 'EN' | 'FR';
  /** AuthZ identity type. Default `"Person"`. */
  type?: 'Person' | 'Service' | 'Secondary' | 'Application';
  /** AuthZ identity source. Default `"cern"` (`"edugain"` for eduGAIN users). */
  source?: 'cern' | 'edugain' | 'external';
  /** Institute (`instituteName`). */
  affiliation?: string;
  /** Internal phone number (`telephone1`), e.g. `"71234"`. */
  phone?: string;
  department?: string;
  group?: string;
  section?: string;
  uid?: number;
  gid?: number;
  /** Default true. */
  active?: boolean;
  /**
   * The user has a second factor: a login that asks (`acr_values`) for an acr mapped to level 2
   * or more in `acrLevels` reaches level 2 (the emulator "asks" for it and it succeeds); without
   * it, such a login reaches level 1 only. Default false.
   */
  mfa?: boolean;
  /** ISO timestamp (`modificationTime`); default a fixed date. */
  modificationTime?: string;
}

/** An e-group. Memberships are precomputed: members of `memberGroups` are members too. */
export interface EmulatorGroup {
  /** `groupIdentifier`, e.g. `"it-dep"`. */
  id: string;
  displayName?: string;
  description?: string;
  /** Logins of direct members. */
  members?: string[];
  /** Ids of nested groups whose members are members of this group. */
  memberGroups?: string[];
}

/** A confidential client registered in the emulated Application Portal. */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /** Exact redirect URIs; a trailing `*` matches any suffix (Keycloak's wildcard). */
  redirectUris: string[];
  /** Allowed `post_logout_redirect_uri`s (same matching). Default: the redirect URIs' rules. */
  postLogoutRedirectUris?: string[];
  /** Where the emulator POSTs back-channel `logout_token`s. */
  backchannelLogoutUri?: string;
  /** Application Portal roles (`cern_roles`) by login. */
  roles?: Record<string, string[]>;
  /** Put a `groups` claim in ID and access tokens. Default false. */
  groupsClaim?: boolean;
  /** `aud` of access tokens issued to this client. Default `[clientId]`. */
  accessTokenAudience?: string[];
}

/** A fault injected by `emulator.faults.set()` on every request whose path starts with a prefix. */
export interface EmulatorFault {
  /** Answer with this HTTP status (JSON body `{ error, error_description }`) instead of the real response. */
  status?: number;
  /** With `status`: send this `Retry-After` (seconds), as an overloaded Keycloak may (429, 503). */
  retryAfterSec?: number;
  /** Wait this long before answering (or before applying `status`). */
  delayMs?: number;
  /** Never answer: the request stays open until the emulator is suspended or closed. */
  hang?: boolean;
  /**
   * Drop the issuer: the authorization response has no `iss` parameter, discovery has no `issuer`,
   * tokens issued by the token endpoint have no `iss` claim.
   */
  omitIss?: boolean;
  /** Same places as `omitIss`, but with a different issuer (`…/auth/realms/not-<realm>`). */
  wrongIss?: boolean;
  /** Apply to this many matching requests, then clear itself. Default: until cleared. */
  times?: number;
  /**
   * Let this many matching requests through first: `{ skip: 2, times: 1 }` on the AuthZ
   * `/api/v1.0/Identity` path fails the third page of a listing. Default 0.
   */
  skip?: number;
}

/** One request seen by the emulator (kept in `emulator.requests.log`). */
export interface EmulatorRequestLogEntry {
  method: string;
  /** Path relative to the server root, without the query string (still percent-encoded). */
  path: string;
  /** `Date.now()` when the request arrived. */
  at: number;
}

/** Options of `startCernSsoEmulator()`. */
export interface EmulatorOptions {
  /** Users known to SSO and the AuthZ API. Default: `seedUsers`. Copied: the emulator owns its data. */
  users?: readonly EmulatorUser[];
  /** E-groups. Default: `seedGroups`. Copied. */
  groups?: readonly EmulatorGroup[];
  /** Registered clients. Default: `[demoClient]`. Copied. */
  clients?: readonly EmulatorClient[];
  /** TCP port. Default 0 (a random free port, kept across `suspend()`/`resume()`). */
  port?: number;
  /** Loopback only: `127.0.0.0/8`, `::1` or `localhost`. Default `127.0.0.1`. */
  host?: string;
  /**
   * Log this user in at the authorization endpoint without showing the form. Default false. Not
   * for `prompt=none` (no page, nobody types a password): as in Keycloak, that needs an SSO session.
   */
  autoLogin?: string | false;
  /** Access (and ID) token lifetime. Default 300. */
  accessTokenTtlSec?: number;
  /** Refresh token lifetime, also the SSO session idle timeout. Default 1800. */
  refreshTokenTtlSec?: number;
  /** Lifetime of tokens from the `api-access/token` endpoint. Default 1200. */
  apiTokenTtlSec?: number;
  /** Keycloak's "Revoke Refresh Token": a refresh token works once. Default true. */
  revokeRefreshTokens?: boolean;
  /** Realm name (`/auth/realms/<realm>`). Default `cern`. */
  realm?: string;
  /**
   * Keycloak's ACR-to-LoA mapping, e.g. `{ '1fa': 1, '2fa': 2 }`. Without it (the default, as
   * in a realm without mapping) tokens carry `acr: "1"` when the user authenticated in that
   * request and `"0"` when the SSO session was reused, whatever `acr_values` asked. With it, a
   * login asking `acr_values` reaches level 2 for users with `mfa`, else 1, and tokens carry the
   * asked acr of the highest level reached (else a mapped acr of that level).
   */
  acrLevels?: Record<string, number>;
}

/** Options of `emulator.issueAccessToken()`. */
export interface IssueAccessTokenOptions {
  /** `azp`, and the client whose roles go into `cern_roles`. Default `demo-app`. */
  clientId?: string;
  /** `aud`. Default: the client's `accessTokenAudience`, else `[clientId]`. */
  audience?: string | string[];
  /** Lifetime; negative values give an already expired token. Default `accessTokenTtlSec`. */
  expiresInSec?: number;
  /** Sets `nbf` to now + this many seconds (a token that is not valid yet). */
  notBeforeSec?: number;
  /** The `scope` claim: space-separated scope names. Default `openid profile email`. */
  scope?: string;
  /** Extra claims, applied last (they override the computed ones). */
  claims?: Record<string, unknown>;
  /** Sign with this key (a kid from `rotateSigningKey()`), default the active one. */
  kid?: string;
  /**
   * Extra JOSE header parameters (e.g. `crit`, `jku`, `x5u`), to test how an API treats them.
   * `alg` and `kid` stay the emulator's; `typ` may be overridden.
   */
  header?: Record<string, unknown>;
}

/** Options of `emulator.login()`. */
export interface EmulatorLoginOptions {
  /** The app's `baseUrl` (as given to `cernSso()`), e.g. `http://localhost:3000` or `https://host/app`. */
  baseUrl: string;
  /** The emulator user to sign in (exact login, e.g. `"jdoe"`). */
  login: string;
  /** The app's login route below `baseUrl` (`routes.login` of `cernSso()`). Default `/login`. */
  loginPath?: string;
  /** Sent as `?returnTo=` to the login route. Default: none (the app's default). */
  returnTo?: string;
}

/** What `emulator.login()` resolves to. */
export interface EmulatorLoginResult {
  /**
   * The `Cookie` header value of the signed-in user: the app's cookies after its callback that a
   * browser sends to every page under `baseUrl` (the session cookie among them).
   */
  cookie: string;
}

/** A running emulator, returned by `startCernSsoEmulator()`. */
export interface CernSsoEmulator {
  /** Server root, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** `${url}/auth/realms/cern`: the value for the library's `issuer` option. */
  readonly issuer: string;
  /** The AuthZ API root (the same server, API under `/api/v1.0`): the library's `authzApiUrl`. */
  readonly authzApiUrl: string;
  /** Live user list: push, splice or edit entries in place; the next request sees it. */
  readonly users: EmulatorUser[];
  /** Live group list, same rules as `users`. */
  readonly groups: EmulatorGroup[];
  /** Live client registry keyed by `clientId` (or use `registerClient`). */
  readonly clients: Map<string, EmulatorClient>;
  /** Adds or replaces a client (e.g. after the app under test got its port). */
  registerClient(client: EmulatorClient): void;
  /**
   * Signs a user in to the app under test over real HTTP, as a browser would: GET the app's login
   * route, authorize at this emulator as `login` (without the form, and without touching
   * `setAutoLogin`: parallel calls for different users work), GET the app's callback with the
   * app's cookies. Resolves to `{ cookie }`, the `Cookie` header of the signed-in user. Rejects
   * with a clear message for an unknown user, a login route that does not redirect to this
   * emulator, or a callback that fails (status and an excerpt of the body).
   *
   * ```ts
   * const { cookie } = await emulator.login({ baseUrl: 'http://localhost:3000', login: 'jdoe' });
   * await request(app).get('/me').set('Cookie', cookie).expect(200); // supertest
   * await fetch('http://localhost:3000/me', { headers: { cookie } }); // fetch
   * ```
   */
  login(options: EmulatorLoginOptions): Promise<EmulatorLoginResult>;
  /**
   * Sets the Application Portal roles (`cern_roles`) of `login` in client `clientId`, replacing
   * the earlier ones (`[]` removes them all). Tokens issued from now on carry them: the next login,
   * token refresh or `issueAccessToken()`. Throws for an unknown client.
   */
  setRoles(clientId: string, login: string, roles: readonly string[]): void;
  /** Changes (or turns off with `false`) automatic login at the authorization endpoint. */
  setAutoLogin(login: string | false): void;
  /** Every request the server received (also the faulted ones). */
  readonly requests: {
    /** Requests whose path is `pathPrefix` or below it (`/a/b` counts `/a/b` and `/a/b/c`, not `/a/bc`). */
    count(pathPrefix: string, method?: string): number;
    /** Most recent last; capped at 100 000 entries. */
    readonly log: readonly EmulatorRequestLogEntry[];
    reset(): void;
  };
  /** Fault injection, matched like `requests.count` (the longest matching prefix wins). */
  readonly faults: {
    set(pathPrefix: string, fault: EmulatorFault): void;
    /** Removes the fault of one prefix, or all faults. */
    clear(pathPrefix?: string): void;
  };
  /** SSO sessions that are still active, for assertions. */
  sessions(login?: string): { sid: string; login: string; clients: string[]; authTime: number }[];
  /** Stops listening and drops open connections ("Keycloak down"); state and keys are kept. */
  suspend(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  /** Signs an access token for a user (not bound to an SSO session), e.g. to test bearer APIs. */
  issueAccessToken(login: string, options?: IssueAccessTokenOptions): Promise<string>;
  /** Adds a new RS256 key (new kid) and signs with it from now on; old keys stay in the JWKS. Returns the kid. */
  rotateSigningKey(): Promise<string>;
  /** Removes a key from the JWKS (tokens signed with it stop verifying). The active key cannot be removed. */
  removeSigningKey(kid: string): void;
  /** Verifies an AuthZ API token (signature, issuer, expiry, `aud: authorization-service-api`); throws if invalid. */
  verifyApiToken(token: string): Promise<Record<string, unknown>>;
  /** Logs a user out at the IdP: ends its SSO sessions and sends back-channel logout tokens. */
  endSsoSessions(login: string): Promise<void>;
  /** Closes the server and every connection. Idempotent. */
  close(): Promise<void>;
}
