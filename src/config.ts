import { isIP } from 'node:net';
import { z } from 'zod';
import { memoryCache } from './cache/memory.js';
import { isTokenStore, type TokenStore } from './token-store.js';
import { isCacheStore, type CacheStore } from './cache/types.js';
import type { RenderError } from './context.js';
import { authorizationParamProblem, type AuthorizationParams } from './authorization-params.js';
import type { OnLogin } from './login-hook.js';
import type { OnEvent } from './events.js';
import { normalizeLogger, type Logger, type LoggerOption } from './logger.js';
import { loggerOption, parseOptions } from './parse-options.js';

/** CERN production defaults. */
export const CERN_ISSUER = 'https://auth.cern.ch/auth/realms/cern';
export const CERN_AUTHZ_API_URL = 'https://authorization-service-api.web.cern.ch';
export const AUTHZ_API_AUDIENCE = 'authorization-service-api';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * True for `localhost`, 127.0.0.0/8 and ::1: the only hosts allowed over plain http. Not
 * `*.localhost`: RFC 6761 asks resolvers to map those to loopback, but Node asks the system
 * resolver, which may send them to DNS.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** An absolute http(s) URL; plain http only for loopback hosts. Trailing slashes removed. */
const secureUrl = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an absolute URL, got "${value}"` });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `must be an https URL, got "${url.protocol}"` });
    } else if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({
        code: 'custom',
        message: `must use https (plain http is only allowed for localhost/127.0.0.1/::1), got "${value}"`,
      });
    }
    if (url.search || url.hash)
      ctx.addIssue({ code: 'custom', message: 'must not contain a query or fragment' });
    if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
  })
  .transform((value) => value.replace(/\/+$/, ''));

const routePath = z
  .string()
  .regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/, 'must be a path starting with "/" (no query, no spaces)');

const routesSchema = z
  .object({
    login: z.union([routePath, z.literal(false)]).default('/login'),
    callback: z.union([routePath, z.literal(false)]).default('/oidc/callback'),
    logout: z.union([routePath, z.literal(false)]).default('/logout'),
    backchannelLogout: z.union([routePath, z.literal(false)]).default('/oidc/backchannel-logout'),
    postLogoutRedirect: routePath.default('/'),
  })
  .strict()
  .default({
    login: '/login',
    callback: '/oidc/callback',
    logout: '/logout',
    backchannelLogout: '/oidc/backchannel-logout',
    postLogoutRedirect: '/',
  });

const positiveMs = z.number().int().positive();

/** A key for the login cookie: long enough to be a key, not a password. */
const cookieSecretValue = z
  .string()
  .min(32, 'must be at least 32 characters (e.g. the output of `openssl rand -base64 32`)');

/** `authorizationParams`: only the allow-list, each value valid; problems named `authorizationParams.<key>`. */
const authorizationParamsSchema = z
  .custom<AuthorizationParams>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    'must be an object of authorization parameters',
  )
  .superRefine((value, ctx) => {
    for (const [name, parameter] of Object.entries(value)) {
      const problem = authorizationParamProblem(name, parameter);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  });

const clockSchema = z.custom<Clock>(
  (value) => typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function',
  'must be an object with a now() method',
);
const cacheSchema = z.custom<CacheStore>(isCacheStore, 'must be a CacheStore (get, set, delete)');

/** An AuthZ field name: a letter, then letters, digits or `_` (so never `__proto__`). */
const IDENTITY_FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Options shared by `cernSso()` and `createIdentityProvider()`. */
const identityShape = {
  clientId: z.string().trim().min(1, 'is required (or set CERN_SSO_CLIENT_ID)'),
  clientSecret: z.string().min(1, 'is required (or set CERN_SSO_CLIENT_SECRET)'),
  issuer: secureUrl,
  authzApiUrl: secureUrl,
  apiTokenEndpoint: secureUrl.optional(),
  cache: cacheSchema.optional(),
  groupsTtlMs: positiveMs.default(30 * MINUTE),
  staleTtlMs: z
    .number()
    .int()
    .nonnegative()
    .default(7 * DAY),
  cernUsersGroup: z.string().trim().min(1).optional(),
  extraSearchFilters: z
    .array(
      z.string().regex(/^[^:]+:(eq|contains|startswith|gt|neq|ne|lt):.*$/, 'must look like "field:op:value"'),
    )
    .default([]),
  phonePrefix: z.string().default('+412276'),
  identityFields: z
    .array(z.string().regex(IDENTITY_FIELD_NAME, 'must be an AuthZ field name such as "cernDepartment"'))
    .max(64)
    .default([]),
  httpTimeoutMs: positiveMs.default(10_000),
  /** Each page of a search or iteration; default `max(30 s, httpTimeoutMs)`. */
  searchTimeoutMs: positiveMs.optional(),
  logger: loggerOption.optional(),
  clock: clockSchema.optional(),
};

export const identityOptionsSchema = z.object(identityShape).strict();

export const ssoOptionsSchema = z
  .object({
    ...identityShape,
    baseUrl: secureUrl,
    scope: z
      .string()
      .trim()
      .default('openid profile email')
      .refine((scope) => scope.split(/\s+/).includes('openid'), 'must contain "openid"'),
    routes: routesSchema,
    /** Defaults of the allowed authorization parameters of every login (`/login?...` overrides). */
    authorizationParams: authorizationParamsSchema.optional(),
    idpLogout: z.boolean().default(true),
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post'])
      .default('client_secret_basic'),
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
    loginTimeoutMs: positiveMs.default(15 * MINUTE),
    /** Key of the login cookie, or a list newest first (rotation); default: derived from clientSecret. */
    cookieSecret: z
      .union([cookieSecretValue, z.array(cookieSecretValue).min(1, 'must list at least one secret')])
      .optional(),
    /** Bound of each session-store use of back-channel logout (the per-request check, recording). */
    logoutCheckTimeoutMs: positiveMs.max(60_000, 'must be at most 60000 (one minute)').default(2000),
    /** A signed-in request whose logout markers cannot be read: 503 (`deny`) or signed in (`allow`). */
    logoutCheckFailure: z.enum(['deny', 'allow']).default('deny'),
    /**
     * `(error, req) => html | undefined`: the HTML error pages of this app (browsers only; JSON
     * clients keep the JSON body). `undefined` = the built-in page (English or French). Sent with
     * the error's status and headers; a renderer that throws is logged and the built-in page sent.
     */
    renderError: z
      .custom<RenderError>(
        (value) => typeof value === 'function',
        'must be a function (error, req) => string | undefined',
      )
      .optional(),
    /**
     * Where the tokens and claims of signed-in sessions are kept (a `TokenStore`: get, set,
     * destroy). Default: entries `cern-sso.auth.*` of the express-session store, next to the
     * sessions (they appear in `store.all()`).
     */
    tokenStore: z.custom<TokenStore>(isTokenStore, 'must be a TokenStore (get, set, destroy)').optional(),
    /** A sign-in older than this (since the callback) is signed out at its next request. */
    absoluteTimeoutMs: positiveMs.default(12 * HOUR),
    /** No request for this long signs the user out. Default: none. */
    idleTimeoutMs: positiveMs.optional(),
    /** Past this since the claims were obtained, the next request refreshes them. */
    claimsTtlMs: positiveMs.default(30 * MINUTE),
    /** `({ req, user, claims }) => void | Promise<void>`: provisions or refuses each sign-in. */
    onLogin: z
      .custom<OnLogin>(
        (value) => typeof value === 'function',
        'must be a function ({ req, user, claims }) => void | Promise<void>',
      )
      .optional(),
    /** `(event) => void`: the audit events (login, logout, access denied, ...), not awaited. */
    onEvent: z
      .custom<OnEvent>((value) => typeof value === 'function', 'must be a function (event) => void')
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    // An idle limit longer than the absolute one would never apply: surely a mistake.
    if (options.idleTimeoutMs !== undefined && options.idleTimeoutMs > options.absoluteTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['idleTimeoutMs'],
        message: `must not exceed absoluteTimeoutMs (${String(options.absoluteTimeoutMs)})`,
      });
    }
  });

/**
 * The clock the library reads instead of `Date.now()`, for tests that move time without
 * waiting (or use `vi.useFakeTimers()`, which the default follows).
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
}

/** The `now` of a `clock` option, read at each call (so fake timers installed later apply). */
export function clockNow(clock: Clock | undefined): () => number {
  return clock ? () => clock.now() : () => Date.now();
}

/**
 * Options of `createIdentityProvider()`, and the identity part of `cernSso()`'s options. Every
 * option is checked at construction: one `CernSsoError` with code `ERR_CONFIG` lists every
 * problem by option name. Hand-written for its documentation; `test/config/options-types.test.ts`
 * checks that it matches the zod schema that validates it.
 */
export interface IdentityProviderOptions {
  /**
   * Client id of the confidential client registered in the CERN Application Portal.
   * Default: env `CERN_SSO_CLIENT_ID`. Required (as an option or in the environment).
   */
  clientId?: string | undefined;
  /**
   * Client secret of that client. Default: env `CERN_SSO_CLIENT_SECRET`. Required (as an option
   * or in the environment). Never logged.
   */
  clientSecret?: string | undefined;
  /**
   * The Keycloak realm, e.g. `https://auth.cern.ch/auth/realms/cern`. Default: env
   * `CERN_SSO_ISSUER`, else CERN's production realm. An absolute https URL without query,
   * fragment or credentials; plain http only for loopback hosts (localhost, 127.0.0.0/8, ::1).
   * Trailing slashes are removed.
   */
  issuer?: string | undefined;
  /**
   * Base URL of the CERN Authorization Service API. Default: env `CERN_SSO_AUTHZ_API_URL`, else
   * `https://authorization-service-api.web.cern.ch`. Same URL rules as `issuer`.
   */
  authzApiUrl?: string | undefined;
  /**
   * Token endpoint for the AuthZ API service token (client credentials). Default: the discovered
   * `token_endpoint` with `protocol/openid-connect` replaced by `api-access`. Same URL rules as
   * `issuer`.
   */
  apiTokenEndpoint?: string | undefined;
  /**
   * Where API tokens, group data and search results are cached: any `CacheStore` (`get`, `set`,
   * `delete`; a `Keyv` instance works). Default: `memoryCache()`; use `redisCache()` when several
   * instances should share it.
   */
  cache?: CacheStore | undefined;
  /** How long group data and search results are fresh, in ms. Default 30 min. A positive integer. */
  groupsTtlMs?: number | undefined;
  /**
   * How long stale group data and search results may be served when the AuthZ API fails, in ms.
   * Default 7 days. An integer, 0 or more (0: never serve stale data).
   */
  staleTtlMs?: number | undefined;
  /** The e-group that the alias `CERN Users` stands for. Default: none (the alias matches nobody). */
  cernUsersGroup?: string | undefined;
  /**
   * AuthZ API filters added to every user search, e.g. `source:eq:cern`. Default `[]`. Each must
   * look like `field:op:value` (op `eq`, `contains`, `startswith`, `gt`, `neq`, `ne` or `lt`).
   */
  extraSearchFilters?: string[] | undefined;
  /**
   * Prefixed to phone numbers (`telephone1`) that do not start with `+`, as Flask-Multipass-CERN
   * does. Default `+412276` (`71234` becomes `+41227671234`); `''` leaves numbers unchanged.
   */
  phonePrefix?: string | undefined;
  /**
   * Extra AuthZ identity fields to request (`field=`) and return raw in `CernIdentity.fields`,
   * e.g. `['cernDepartment', 'cernGroup', 'cernSection', 'uid', 'gid', 'activeUser']`. Default
   * `[]` (no `fields`). Names: a letter, then letters, digits or `_`; at most 64 of them.
   */
  identityFields?: string[] | undefined;
  /** Timeout of every outbound HTTP call, in ms (searches: `searchTimeoutMs`). Default 10 000. */
  httpTimeoutMs?: number | undefined;
  /**
   * Timeout of each page of a search or iteration (`searchUsers`, `searchGroups`, `iterate*`),
   * in ms. Default `max(30 000, httpTimeoutMs)`. A positive integer.
   */
  searchTimeoutMs?: number | undefined;
  /**
   * Where the library logs: any subset of `{ debug, info, warn, error }` (pino-compatible).
   * Default: warnings and errors to the console. Messages are one line, without tokens.
   */
  logger?: LoggerOption | undefined;
  /**
   * For tests: the clock of cached data, API token expiry and discovery retries; in `cernSso()`
   * also of sign-ins: access token expiry and refresh, login expiry (`loginTimeoutMs`), sign-in
   * record lifetimes, session timeouts and claims refresh, back-channel logout markers and the
   * time checks of ID and logout tokens.
   * Default: real time (`Date.now()`, read at each call, so fake timers drive it).
   */
  clock?: Clock | undefined;
}

/** The routes `cernSso()` mounts; a route set to `false` is not mounted. */
export interface CernSsoRoutes {
  /** Starts a login (`GET`, `?returnTo=/path`). Default `/login`. */
  login?: string | false | undefined;
  /** Where Keycloak sends the browser back (`GET`). Default `/oidc/callback`. */
  callback?: string | false | undefined;
  /** Ends the session (`GET` or `POST`). Default `/logout`. */
  logout?: string | false | undefined;
  /** Keycloak's back-channel logout posts here (`POST`). Default `/oidc/backchannel-logout`. */
  backchannelLogout?: string | false | undefined;
  /** Where the browser lands after logout (a path under `baseUrl`). Default `/`. */
  postLogoutRedirect?: string | undefined;
}

/**
 * Options of `cernSso()`: the identity options plus the login ones. Every option is checked at
 * construction: one `CernSsoError` with code `ERR_CONFIG` lists every problem by option name.
 */
export interface CernSsoOptions extends IdentityProviderOptions {
  /**
   * External URL of the app, e.g. `https://myapp.web.cern.ch` (may include a path). Default: env
   * `CERN_SSO_BASE_URL`. Required. Same URL rules as `issuer`.
   */
  baseUrl?: string | undefined;
  /** OAuth scopes asked at login, space-separated. Default `openid profile email`. Must contain `openid`. */
  scope?: string | undefined;
  /**
   * Paths of the routes (each a path starting with `/`, no query), or `false` to not mount one.
   * Default `{ login: '/login', callback: '/oidc/callback', logout: '/logout',
   * backchannelLogout: '/oidc/backchannel-logout', postLogoutRedirect: '/' }`; give only the
   * ones to change.
   */
  routes?: CernSsoRoutes | undefined;
  /**
   * Authorization parameters sent with every login, e.g. `{ kc_idp_hint: 'eduGAIN' }` or
   * `{ ui_locales: 'fr' }`. Only `prompt`, `login_hint`, `kc_idp_hint`, `ui_locales`, `max_age`
   * (a number of seconds) and `acr_values`; the same parameters in the `/login` query override
   * these. Default: none. `scope` is its own option; `state`, `nonce`, PKCE, `redirect_uri`,
   * `response_type` and `client_id` are the library's own. An unknown key or invalid value is an
   * `ERR_CONFIG` naming `authorizationParams.<key>`.
   */
  authorizationParams?: AuthorizationParams | undefined;
  /** Logout also ends the SSO session at Keycloak (RP-initiated logout). Default `true`. */
  idpLogout?: boolean | undefined;
  /**
   * How the client authenticates at Keycloak's token endpoint. Default `client_secret_basic`;
   * or `client_secret_post`.
   */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | undefined;
  /** Allowed clock skew for ID token and logout token checks, in seconds. Default 30. 0 to 300. */
  clockToleranceSec?: number | undefined;
  /** How long a started login may take (lifetime of its login cookie), in ms. Default 15 min. */
  loginTimeoutMs?: number | undefined;
  /**
   * Key of the login cookie, at least 32 characters, or a list newest first (the first seals,
   * any opens: rotation). Default: a key derived from `clientSecret`.
   */
  cookieSecret?: string | string[] | undefined;
  /**
   * Bound of each session-store use of back-channel logout (the per-request check, recording),
   * in ms. Default 2000. At most 60 000.
   */
  logoutCheckTimeoutMs?: number | undefined;
  /**
   * A signed-in request whose logout markers cannot be read in time: `'deny'` answers 503 with
   * `Retry-After`, `'allow'` passes signed in with a warning. Default `'deny'`.
   */
  logoutCheckFailure?: 'deny' | 'allow' | undefined;
  /**
   * `(error, req) => html | undefined`: the HTML error pages of this app, in your branding and
   * language (browsers only: JSON clients keep the JSON body). Return `undefined` for the built-in
   * page (English or French, from the user's `cern_preferred_language`, else `Accept-Language`).
   * Sent with the error's status and headers; a renderer that throws or returns something else
   * than a string is logged and the built-in page is sent. Escape whatever you show.
   */
  renderError?: RenderError | undefined;
  /**
   * Where the tokens and claims of signed-in sessions are kept: any {@link TokenStore} (`get`,
   * `set`, `destroy`). Default: entries `cern-sso.auth.*` of the express-session store, next to
   * the sessions (one place for many instances, the same lifetime, no second database); they
   * appear in `store.all()`. Give your own to keep them elsewhere (e.g. another Redis namespace).
   */
  tokenStore?: TokenStore | undefined;
  /**
   * How long a sign-in lasts, in ms, counted from the login (the callback), whatever the
   * activity: older, the next request is anonymous (guards answer 401 or send to the login) and
   * the sign-in record is deleted. Token refreshes do not extend it. Default 12 h (CERN's SSO
   * session maximum). A positive integer.
   */
  absoluteTimeoutMs?: number | undefined;
  /**
   * Signs the user out after this long without a request, in ms (then as `absoluteTimeoutMs`).
   * The last request is recorded in the session at most every `min(1 min, idleTimeoutMs / 10)`,
   * so the session is not written on every request: a user may be signed out up to that much
   * earlier than `idleTimeoutMs` after their last request. Default: none (no idle limit). A
   * positive integer, at most `absoluteTimeoutMs`.
   */
  idleTimeoutMs?: number | undefined;
  /**
   * How long the claims of a sign-in (`cern_roles` as `req.sso.user.roles`, a `groups` claim)
   * are used before being refreshed, in ms: the first request past it refreshes the tokens with
   * the refresh token (once per session, across instances) and takes the claims of the new ID
   * token, so role and e-group changes in Keycloak apply within this time. Keycloak answering
   * that the session is gone signs the user out; Keycloak unreachable keeps the old claims (a
   * warning is logged, tried again a minute later). Default 30 min. A positive integer.
   */
  claimsTtlMs?: number | undefined;
  /**
   * `({ req, user, claims }) => void | Promise<void>`, awaited: called once per sign-in, after the
   * callback validated the tokens and regenerated the session id, before the session is saved.
   * Provision or link a local account there and put app data in `req.session` (it is part of the
   * signed-in session). Throw `loginDenied(message)` to refuse the sign-in: 403 page showing
   * `message`. Anything else thrown is logged and answered 500 "The sign-in could not be
   * completed." Either way nobody is signed in (nothing stored, `req.session` emptied). No timeout
   * applies: bound your own database calls.
   */
  onLogin?: OnLogin | undefined;
  /**
   * `(event) => void`: the audit trail. Called synchronously with a frozen
   * `{ type, at, login?, issuer?, path?, reason? }` (see `CernSsoEvent`) at each `login`,
   * `login_failed`, `login_denied`, `logout`, `backchannel_logout`, `access_denied` (guards),
   * `refresh_failed`, `session_expired` and `upstream_unavailable`; never a token, code, cookie or
   * upstream text. Not awaited: a sink that writes somewhere slow should queue. A listener that
   * throws (or rejects) is logged as an error with the event's type; the request goes on.
   * `bearerAuth()` mounted after this `cernSso()` uses it too unless given its own. Default: none.
   */
  onEvent?: OnEvent | undefined;
}

type Resolved<T> = Omit<T, 'cache' | 'logger'> & { cache: CacheStore; logger: Logger };
export type ResolvedIdentityConfig = Resolved<z.output<typeof identityOptionsSchema>>;
export type ResolvedSsoConfig = Resolved<z.output<typeof ssoOptionsSchema>>;

/** Reads `CERN_SSO_*` env fallbacks for options the caller did not give. */
function withEnvFallbacks(options: object, keys: readonly string[]): Record<string, unknown> {
  const env: Record<string, [string, string | undefined]> = {
    clientId: ['CERN_SSO_CLIENT_ID', undefined],
    clientSecret: ['CERN_SSO_CLIENT_SECRET', undefined],
    baseUrl: ['CERN_SSO_BASE_URL', undefined],
    issuer: ['CERN_SSO_ISSUER', CERN_ISSUER],
    authzApiUrl: ['CERN_SSO_AUTHZ_API_URL', CERN_AUTHZ_API_URL],
  };
  const result: Record<string, unknown> = { ...options };
  for (const key of keys) {
    const entry = env[key];
    if (!entry || result[key] !== undefined) continue;
    const [name, fallback] = entry;
    const fromEnv = process.env[name];
    result[key] = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback;
  }
  return result;
}

function resolveShared<T extends { cache?: CacheStore | undefined; logger?: LoggerOption | undefined }>(
  parsed: T,
): Omit<T, 'cache' | 'logger'> & { cache: CacheStore; logger: Logger } {
  return { ...parsed, cache: parsed.cache ?? memoryCache(), logger: normalizeLogger(parsed.logger) };
}

/** Validates `cernSso()` options; throws one `ERR_CONFIG` error that lists every problem. */
export function resolveSsoConfig(options: CernSsoOptions = {}): ResolvedSsoConfig {
  const input = withEnvFallbacks(options, ['clientId', 'clientSecret', 'baseUrl', 'issuer', 'authzApiUrl']);
  return resolveShared(parseOptions(ssoOptionsSchema, input, 'cernSso'));
}

/** Validates `createIdentityProvider()` options; same error contract as `resolveSsoConfig`. */
export function resolveIdentityConfig(options: IdentityProviderOptions = {}): ResolvedIdentityConfig {
  const input = withEnvFallbacks(options, ['clientId', 'clientSecret', 'issuer', 'authzApiUrl']);
  return resolveShared(parseOptions(identityOptionsSchema, input, 'createIdentityProvider'));
}
