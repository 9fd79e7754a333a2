import { z } from 'zod';
import { CERN_ISSUER, isLoopbackHost } from '../config.js';
import type { ContextIdentity } from '../context.js';
import { configError } from '../errors.js';
import type { OnEvent } from '../events.js';
import { normalizeLogger, type Logger, type LoggerOption } from '../logger.js';
import { loggerOption, parseOptions } from '../parse-options.js';

/** Asymmetric JWS algorithms accepted by default (and the only ones `bearerAuth()` accepts). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** A JWS algorithm `bearerAuth()` can verify. */
export type BearerAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** How `bearerAuth()` uses RFC 7662 token introspection. */
export type IntrospectMode = 'opaque' | 'always' | 'never';

/** Options of `bearerAuth()`. Only `audience` is required. */
export interface BearerAuthOptions {
  /**
   * Trusted issuer(s): a token whose `iss` is not one of them is refused before any network
   * request. Precedence: this option; else the issuer of the `cernSso()` that set `req.sso`
   * before this `bearerAuth()` (read on each request, so a `cernSso()` mounted before it is
   * enough); else env `CERN_SSO_ISSUER`; else `https://auth.cern.ch/auth/realms/cern`.
   * https only; plain http is accepted for loopback hosts (the local emulator).
   */
  issuer?: string | readonly string[];
  /**
   * Lets requests without Bearer credentials through: no `Authorization` header, or credentials
   * of another scheme (`Basic …`, not ours per RFC 6750), go on with the `req.sso` already there
   * (the session context of a `cernSso()` mounted before), else an anonymous one; guards after it
   * then decide. A `Bearer` header that is malformed or carries a bad token is still a 400/401,
   * never anonymous. Default false: no Bearer credentials is a 401.
   */
  optional?: boolean;
  /**
   * Required. A token's `aud` must contain one of these values. Keycloak's default access token
   * audience is `account`: add an audience mapper to the client that requests the tokens.
   */
  audience: string | readonly string[];
  /** Accepted JWS algorithms. Default: RS/PS/ES 256/384/512 and EdDSA. `none` and HS* are refused. */
  algorithms?: readonly BearerAlgorithm[];
  /** Clock skew allowed on `exp`/`nbf`, in seconds (0 to 300). Default 30. */
  clockToleranceSec?: number;
  /**
   * RFC 7662 introspection, only ever by the app's explicit choice: `'opaque'` for tokens that are
   * not JWTs, `'always'` for every token (one call per token, cached until `exp`: a revocation is
   * seen only on a token's first check), `'never'`. Not set: `'opaque'` when `clientId` and
   * `clientSecret` are passed here, else no introspection (opaque tokens are refused); credentials
   * in the environment alone never switch it on. Set to `'opaque'` or `'always'`, it takes the
   * credentials from these options, else from `CERN_SSO_CLIENT_ID`/`CERN_SSO_CLIENT_SECRET`, and
   * is a configuration error without any. With several issuers, opaque tokens are introspected
   * at the first.
   */
  introspect?: IntrospectMode;
  /** Client for introspection (client_secret_basic). Env `CERN_SSO_CLIENT_ID` only with an explicit `introspect`. */
  clientId?: string;
  /** Secret of `clientId`. Env `CERN_SSO_CLIENT_SECRET` only with an explicit `introspect`. */
  clientSecret?: string;
  /**
   * Most introspection requests per second for tokens not seen before, in bursts of up to twice
   * as many; beyond it, 503 `temporarily_unavailable` with `Retry-After`, without asking the
   * issuer. Bounds what a client sending distinct garbage tokens costs the issuer. Default 20.
   */
  introspectionsPerSecond?: number;
  /** When set, a token's `azp` (or introspected `client_id`) must be one of these clients. */
  azp?: string | readonly string[];
  /**
   * Identity provider for `requireGroup()` when a token has no `groups` claim, and for
   * `req.sso.exchangeToken()`. Default: the one of `cernSso()` when it is mounted before.
   */
  identity?: ContextIdentity;
  /** The e-group that the alias `CERN Users` stands for, applied to a token's `groups` claim. */
  cernUsersGroup?: string;
  /** An unknown `kid` refetches the issuer's JWKS at most once per this many ms. Default 1000. */
  jwksCooldownMs?: number;
  /**
   * Size of the verified-token cache (entries kept until `exp`), and of the separate cache of
   * tokens refused by introspection (kept 30 s); 0 disables both. Default 10 000.
   */
  verifiedTokenCacheMax?: number;
  /** Timeout of every discovery, JWKS and introspection request. Default 10 000. */
  httpTimeoutMs?: number;
  /** `{ debug, info, warn, error }` (pino-compatible). Default: warnings and errors to the console. */
  logger?: LoggerOption;
  /**
   * For tests; default `Date.now`. The clock (ms since the epoch) of token expiry, both token
   * caches and the introspection rate bound, and, when this is the first user of an issuer in
   * the process, of that issuer's discovery and JWKS retry delays.
   */
  clock?: { now(): number };
  /**
   * `(event) => void`: audit events of this `bearerAuth()`: `access_denied` (a request without
   * an access token: reason `auth`; a refused one: `invalid_token` or `invalid_request`; and the
   * guards after it, with the token's user) and `upstream_unavailable`. Default: the `onEvent` of
   * the `cernSso()` mounted before it, per request (as `issuer`); else none. Same contract as
   * `cernSso({ onEvent })`: synchronous, not awaited, a throwing listener is logged.
   */
  onEvent?: OnEvent;
}

/** Validated `bearerAuth()` options, with defaults applied. */
export interface ResolvedBearerConfig {
  /**
   * The trusted issuers: the `issuer` option, else the default (env, else CERN's), which
   * `bearerAuth()` replaces per request by the issuer of a `cernSso()` mounted before it.
   */
  issuers: string[];
  /** True when `issuers` came from the `issuer` option (nothing is inherited then). */
  issuerExplicit: boolean;
  /** Requests without Bearer credentials go on with the existing (or an anonymous) `req.sso`. */
  optional: boolean;
  audiences: string[];
  algorithms: BearerAlgorithm[];
  clockToleranceSec: number;
  introspect: IntrospectMode;
  client: { clientId: string; clientSecret: string } | undefined;
  introspectionsPerSecond: number;
  azp: string[] | undefined;
  identity: ContextIdentity | undefined;
  cernUsersGroup: string | undefined;
  jwksCooldownMs: number;
  verifiedTokenCacheMax: number;
  httpTimeoutMs: number;
  logger: Logger;
  /** The clock (`clock.now`, else `Date.now`). */
  now: () => number;
  /** The `onEvent` option (else the one of a `cernSso()` mounted before, per request). */
  onEvent: OnEvent | undefined;
}

type Ctx = z.core.$RefinementCtx;

/** One string or a non-empty list of non-empty strings, as a list. */
function stringList(value: unknown, ctx: Ctx, what: string): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    ctx.addIssue({ code: 'custom', message: `must name at least one ${what}` });
    return [];
  }
  const bad = list.filter((item) => typeof item !== 'string' || item.trim() === '');
  if (bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `must be a non-empty string or a list of them` });
    return [];
  }
  return [...new Set((list as string[]).map((item) => item.trim()))];
}

/** Issuer URLs are compared exactly with `iss`: only validated, not rewritten. */
function issuerList(value: unknown, ctx: Ctx): string[] {
  const list = stringList(value, ctx, 'issuer');
  for (const issuer of list) {
    let url: URL;
    try {
      url = new URL(issuer);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an absolute URL, got "${issuer}"` });
      continue;
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({
        code: 'custom',
        message: `must use https (plain http is only allowed for localhost/127.0.0.1/::1), got "${issuer}"`,
      });
    } else if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `must be an https URL, got "${issuer}"` });
    }
    if (url.search || url.hash)
      ctx.addIssue({ code: 'custom', message: 'must not contain a query or fragment' });
    if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
  }
  return list;
}

function algorithmList(value: unknown, ctx: Ctx): BearerAlgorithm[] {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a non-empty list of JWS algorithms' });
    return [];
  }
  const allowed = new Set<string>(ASYMMETRIC_ALGORITHMS);
  for (const alg of value as unknown[]) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      ctx.addIssue({ code: 'custom', message: '"none" is never accepted: it means an unsigned token' });
    } else if (typeof alg === 'string' && /^HS\d+$/i.test(alg)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${alg}" is refused: symmetric algorithms let anyone holding the key forge tokens (and enable the RS/HS key confusion attack)`,
      });
    } else if (typeof alg !== 'string' || !allowed.has(alg)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${String(alg)}" is not supported; use any of ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
      });
    }
  }
  return [...new Set(value as BearerAlgorithm[])];
}

const isIdentity = (value: unknown): value is ContextIdentity =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<ContextIdentity>).getUserGroups === 'function' &&
  typeof (value as Partial<ContextIdentity>).exchangeToken === 'function';

const schema = z
  .object({
    issuer: z.unknown().transform(issuerList),
    audience: z
      .unknown()
      .refine((value) => value !== undefined, 'is required: the audience (aud) your API expects')
      .transform((value, ctx) => stringList(value, ctx, 'audience')),
    algorithms: z
      .unknown()
      .optional()
      .transform((value, ctx) =>
        value === undefined ? [...ASYMMETRIC_ALGORITHMS] : algorithmList(value, ctx),
      ),
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
    introspect: z.enum(['opaque', 'always', 'never']).default('opaque'),
    clientId: z.string().trim().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    introspectionsPerSecond: z.number().positive().max(100_000).default(20),
    azp: z
      .unknown()
      .optional()
      .transform((value, ctx) => (value === undefined ? undefined : stringList(value, ctx, 'client'))),
    identity: z
      .custom<ContextIdentity>(isIdentity, 'must be an identity provider (getUserGroups, exchangeToken)')
      .optional(),
    cernUsersGroup: z.string().trim().min(1).optional(),
    optional: z.boolean().default(false),
    jwksCooldownMs: z.number().int().min(0).max(3_600_000).default(1000),
    verifiedTokenCacheMax: z.number().int().min(0).max(10_000_000).default(10_000),
    httpTimeoutMs: z.number().int().positive().default(10_000),
    logger: loggerOption.optional(),
    onEvent: z
      .custom<OnEvent>((value) => typeof value === 'function', 'must be a function (event) => void')
      .optional(),
    clock: z
      .custom<{ now(): number }>(
        (value) => typeof (value as { now?: unknown } | null)?.now === 'function',
        'must be an object with a now() method (ms since the epoch)',
      )
      .optional(),
  })
  .strict();

/** Problems that involve several options (checked on the raw input, so they are always listed). */
function crossProblems(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const hasId = input.clientId !== undefined;
  const hasSecret = input.clientSecret !== undefined;
  if (hasId !== hasSecret) {
    problems.push(
      `${hasId ? 'clientSecret' : 'clientId'}: clientId and clientSecret go together (introspection authenticates with both)`,
    );
  }
  const mode = input.introspect;
  if ((mode === 'opaque' || mode === 'always') && !hasId && !hasSecret) {
    problems.push(
      `introspect: "${mode}" needs clientId and clientSecret (options, or CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET)`,
    );
  }
  return problems;
}

function fromEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Validates `bearerAuth()` options. Env fallbacks: `issuer`; `clientId` and `clientSecret` only
 * when `introspect` is explicitly `'opaque'` or `'always'` (introspection is the app's choice).
 *
 * @throws CernSsoError `ERR_CONFIG` listing every problem, each with the option's name.
 */
export function resolveBearerConfig(options: BearerAuthOptions): ResolvedBearerConfig {
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options)) {
    throw configError('bearerAuth: options must be an object with at least { audience }', [
      'audience: is required',
    ]);
  }
  const input: Record<string, unknown> = { ...options };
  const issuerExplicit = input.issuer !== undefined;
  input.issuer ??= fromEnv('CERN_SSO_ISSUER') ?? CERN_ISSUER;
  // Credentials in the environment are for cernSso(); they switch introspection on only when
  // the app asked for it here.
  if (input.introspect === 'opaque' || input.introspect === 'always') {
    input.clientId ??= fromEnv('CERN_SSO_CLIENT_ID');
    input.clientSecret ??= fromEnv('CERN_SSO_CLIENT_SECRET');
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const parsed = parseOptions(schema, defined, 'bearerAuth', crossProblems(defined));
  const { clock } = parsed;
  return {
    issuers: parsed.issuer,
    issuerExplicit,
    optional: parsed.optional,
    audiences: parsed.audience,
    algorithms: parsed.algorithms,
    clockToleranceSec: parsed.clockToleranceSec,
    introspect: parsed.introspect,
    client:
      parsed.clientId !== undefined && parsed.clientSecret !== undefined && parsed.introspect !== 'never'
        ? { clientId: parsed.clientId, clientSecret: parsed.clientSecret }
        : undefined,
    introspectionsPerSecond: parsed.introspectionsPerSecond,
    azp: parsed.azp,
    identity: parsed.identity,
    cernUsersGroup: parsed.cernUsersGroup,
    jwksCooldownMs: parsed.jwksCooldownMs,
    verifiedTokenCacheMax: parsed.verifiedTokenCacheMax,
    httpTimeoutMs: parsed.httpTimeoutMs,
    logger: normalizeLogger(parsed.logger),
    now: clock ? () => clock.now() : Date.now,
    onEvent: parsed.onEvent,
  };
}
