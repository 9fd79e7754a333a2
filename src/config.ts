import { isIP } from 'node:net';
import { z } from 'zod';
import { memoryCache } from './cache/memory.js';
import { isTokenStore, type TokenStore } from './auth/token-store.js';
import { isCacheStore, type CacheStore } from './cache/types.js';
import { CernSsoError } from './errors.js';
import { normalizeLogger, type Logger } from './logger.js';

/** CERN production defaults. */
export const CERN_ISSUER = 'https://auth.cern.ch/auth/realms/cern';
export const CERN_AUTHZ_API_URL = 'https://authorization-service-api.web.cern.ch';
export const AUTHZ_API_AUDIENCE = 'authorization-service-api';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

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

const loggerSchema = z.custom<Partial<Logger>>(
  (value) => typeof value === 'object' && value !== null,
  'must be a logger object with debug/info/warn/error methods',
);
const cacheSchema = z.custom<CacheStore>(isCacheStore, 'must be a CacheStore (get, set, delete)');

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
  httpTimeoutMs: positiveMs.default(10_000),
  /** Each page of a search or iteration; default `max(30 s, httpTimeoutMs)`. */
  searchTimeoutMs: positiveMs.optional(),
  logger: loggerSchema.optional(),
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
     * Where the tokens and claims of signed-in sessions are kept (a `TokenStore`: get, set,
     * destroy). Default: entries `cern-sso.auth.*` of the express-session store, next to the
     * sessions (they appear in `store.all()`).
     */
    tokenStore: z.custom<TokenStore>(isTokenStore, 'must be a TokenStore (get, set, destroy)').optional(),
  })
  .strict();

/** Options accepted by `createIdentityProvider()`. */
export type IdentityProviderOptions = z.input<typeof identityOptionsSchema>;
/** Options accepted by `cernSso()`. See the README for each option. */
export type CernSsoOptions = Partial<z.input<typeof ssoOptionsSchema>>;

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

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const name = issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
    if (issue.code === 'unrecognized_keys') return `${issue.keys.join(', ')}: unknown option`;
    const message =
      issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return `${name}: ${message}`;
  });
}

function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new CernSsoError('ERR_CONFIG', `${what}: options must be an object`, { details: [] });
  }
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(result.error);
  throw new CernSsoError('ERR_CONFIG', `${what}: invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: problems,
  });
}

function resolveShared<T extends { cache?: CacheStore | undefined; logger?: Partial<Logger> | undefined }>(
  parsed: T,
): Omit<T, 'cache' | 'logger'> & { cache: CacheStore; logger: Logger } {
  return { ...parsed, cache: parsed.cache ?? memoryCache(), logger: normalizeLogger(parsed.logger) };
}

/** Validates `cernSso()` options; throws one `ERR_CONFIG` error that lists every problem. */
export function resolveSsoConfig(options: CernSsoOptions = {}): ResolvedSsoConfig {
  const input = withEnvFallbacks(options, ['clientId', 'clientSecret', 'baseUrl', 'issuer', 'authzApiUrl']);
  return resolveShared(parse(ssoOptionsSchema, input, 'cernSso'));
}

/** Validates `createIdentityProvider()` options; same error contract as `resolveSsoConfig`. */
export function resolveIdentityConfig(
  options: Partial<IdentityProviderOptions> = {},
): ResolvedIdentityConfig {
  const input = withEnvFallbacks(options, ['clientId', 'clientSecret', 'issuer', 'authzApiUrl']);
  return resolveShared(parse(identityOptionsSchema, input, 'createIdentityProvider'));
}
