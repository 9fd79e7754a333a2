import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { findUser, type EmulatorContext } from './context.js';
import { computeUserGroups } from './memberships.js';
import type { RefreshRecord, SsoSession } from './store.js';
import type { EmulatorClient, EmulatorUser } from './types.js';

/** Token type URN of access tokens (RFC 8693). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** `events` member of back-channel logout tokens. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The `iss` claim to put in a token; `undefined` leaves it out (the `omitIss` fault). */
export type IssuerClaim = string | undefined;

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** Keycloak puts a single audience as a string, several as an array. */
export function audienceClaim(audience: readonly string[]): string | string[] {
  const [first] = audience;
  return audience.length === 1 && first !== undefined ? first : [...audience];
}

/** `at_hash`: left half of the SHA-256 of the access token, base64url (OIDC Core 3.1.3.6). */
function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

/** The client's Application Portal roles of `login` (own entries only: a login may be `constructor`). */
function rolesOf(client: EmulatorClient | undefined, login: string): string[] {
  const roles = client?.roles;
  return roles !== undefined && Object.hasOwn(roles, login) ? [...(roles[login] ?? [])] : [];
}

/** Drops `undefined` members, so tokens have no `"email": null`-like noise. */
function compact(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

/**
 * CERN's identity claims for a user, as seen by one client: profile, `cern_*` claims, the
 * client's Application Portal roles, and the precomputed groups when the client asked for them.
 */
export function identityClaims(
  ctx: EmulatorContext,
  user: EmulatorUser,
  clientId: string,
  client: EmulatorClient | undefined = ctx.clients.get(clientId),
): Record<string, unknown> {
  const roles = rolesOf(client, user.login);
  const fullName = [user.firstName, user.lastName].filter(Boolean).join(' ');
  return compact({
    sub: user.login,
    cern_upn: user.login,
    cern_person_id: user.personId,
    name: user.displayName ?? (fullName || undefined),
    given_name: user.firstName,
    family_name: user.lastName,
    email: user.email,
    preferred_username: user.login,
    cern_preferred_language: user.preferredLanguage ?? 'EN',
    cern_roles: roles,
    resource_access: { [clientId]: { roles } },
    groups: client?.groupsClaim ? computeUserGroups(ctx.groups, user.login) : undefined,
  });
}

/** Claims of a client's service account (client credentials grant). */
export function serviceAccountClaims(client: EmulatorClient): Record<string, unknown> {
  const login = `service-account-${client.clientId}`;
  const roles = rolesOf(client, login);
  return {
    sub: login,
    preferred_username: login,
    cern_roles: roles,
    resource_access: { [client.clientId]: { roles } },
    client_id: client.clientId,
    clientId: client.clientId,
  };
}

/** Signs a JWT with the realm's active RS256 key (or the key `kid`). */
export async function signJwt(
  ctx: EmulatorContext,
  payload: Record<string, unknown>,
  options: { typ?: string; kid?: string | undefined; header?: Record<string, unknown> | undefined } = {},
): Promise<string> {
  const key = options.kid === undefined ? ctx.keys.active : ctx.keys.get(options.kid);
  if (!key) throw new Error(`unknown signing key ${String(options.kid)}`);
  const crit = options.header?.crit;
  // jose only signs `crit` extensions it is told about: the emulator signs whatever it is given.
  const recognized = Array.isArray(crit)
    ? Object.fromEntries(crit.filter((name) => typeof name === 'string').map((name) => [name, true]))
    : undefined;
  return new SignJWT(payload)
    .setProtectedHeader({ typ: options.typ ?? 'JWT', ...options.header, alg: 'RS256', kid: key.kid })
    .sign(key.privateKey, recognized ? { crit: recognized } : {});
}

/** Options of `signAccessToken`. */
export interface AccessTokenSpec {
  iss: IssuerClaim;
  /** Identity claims (`sub` included). */
  identity: Record<string, unknown>;
  azp: string;
  audience: readonly string[];
  scope: string;
  ttlSec: number;
  /** The SSO session the token belongs to (it dies with it). */
  session?: SsoSession | undefined;
  /** The code grant (a code replay revokes it). */
  grantId?: string | undefined;
  notBeforeSec?: number | undefined;
  extraClaims?: Record<string, unknown> | undefined;
  kid?: string | undefined;
  /** Extra JOSE header parameters. */
  header?: Record<string, unknown> | undefined;
}

/** Signs a Keycloak-style JWT access token (`typ: Bearer`) and records it for revocation checks. */
export async function signAccessToken(ctx: EmulatorContext, spec: AccessTokenSpec): Promise<string> {
  const iat = nowSec();
  // An already expired token (negative ttl) still has iat < exp, as a real one would.
  const exp = iat + spec.ttlSec;
  const jti = randomUUID();
  const payload = compact({
    exp,
    iat: Math.min(iat, exp - 1),
    nbf: spec.notBeforeSec === undefined ? undefined : iat + spec.notBeforeSec,
    auth_time: spec.session?.authTime,
    acr: spec.session?.acr,
    jti,
    iss: spec.iss,
    aud: audienceClaim(spec.audience),
    typ: 'Bearer',
    azp: spec.azp,
    session_state: spec.session?.sid,
    scope: spec.scope,
    sid: spec.session?.sid,
    ...spec.identity,
    ...spec.extraClaims,
  });
  const token = await signJwt(ctx, payload, { kid: spec.kid, header: spec.header });
  ctx.store.addAccessToken(jti, spec.grantId, exp * 1000);
  return token;
}

/** Inputs of a user token response (authorization code and refresh grants). */
export interface UserTokenSpec {
  iss: IssuerClaim;
  client: EmulatorClient;
  user: EmulatorUser;
  session: SsoSession;
  scope: string;
  grantId: string;
  /** Only in the ID token of the authorization code grant. */
  nonce?: string | undefined;
}

/** Access, ID and refresh tokens for a user, as a Keycloak token response body. */
export async function issueUserTokens(
  ctx: EmulatorContext,
  spec: UserTokenSpec,
): Promise<Record<string, unknown>> {
  const { client, user, session, scope } = spec;
  const { accessTokenTtlSec, refreshTokenTtlSec } = ctx.settings;
  const identity = identityClaims(ctx, user, client.clientId, client);
  const accessToken = await signAccessToken(ctx, {
    iss: spec.iss,
    identity,
    azp: client.clientId,
    audience: client.accessTokenAudience ?? [client.clientId],
    scope,
    ttlSec: accessTokenTtlSec,
    session,
    grantId: spec.grantId,
  });
  const iat = nowSec();
  const response: Record<string, unknown> = {
    access_token: accessToken,
    expires_in: accessTokenTtlSec,
    refresh_expires_in: refreshTokenTtlSec,
    refresh_token: await signRefreshToken(ctx, spec, iat + refreshTokenTtlSec),
    token_type: 'Bearer',
  };
  if (scope.split(' ').includes('openid')) {
    response.id_token = await signJwt(
      ctx,
      compact({
        exp: iat + accessTokenTtlSec,
        iat,
        auth_time: session.authTime,
        acr: session.acr,
        jti: randomUUID(),
        iss: spec.iss,
        aud: client.clientId,
        typ: 'ID',
        azp: client.clientId,
        nonce: spec.nonce,
        session_state: session.sid,
        at_hash: atHash(accessToken),
        sid: session.sid,
        ...identity,
      }),
    );
  }
  response['not-before-policy'] = 0;
  response.session_state = session.sid;
  response.scope = scope;
  return response;
}

/** Keycloak-style refresh token: an HS512 JWT (`typ: Refresh`) backed by a server-side record. */
async function signRefreshToken(ctx: EmulatorContext, spec: UserTokenSpec, exp: number): Promise<string> {
  const jti = randomUUID();
  const record: RefreshRecord = {
    jti,
    grantId: spec.grantId,
    clientId: spec.client.clientId,
    login: spec.user.login,
    sid: spec.session.sid,
    scope: spec.scope,
    expiresAt: exp * 1000,
    used: false,
  };
  ctx.store.addRefreshToken(record);
  return new SignJWT(
    compact({
      exp,
      iat: nowSec(),
      jti,
      iss: spec.iss,
      aud: ctx.issuer,
      sub: spec.user.login,
      typ: 'Refresh',
      azp: spec.client.clientId,
      session_state: spec.session.sid,
      scope: spec.scope,
      sid: spec.session.sid,
    }),
  )
    .setProtectedHeader({ alg: 'HS512', typ: 'JWT', kid: ctx.keys.refreshKid })
    .sign(ctx.keys.refreshSecret);
}

/**
 * The claims of an access token if it is active: signed by one of our keys, issued by this
 * realm, within its lifetime, not revoked, and (when bound to an SSO session) the session is on.
 */
export async function verifyAccessToken(
  ctx: EmulatorContext,
  token: string,
): Promise<JWTPayload | undefined> {
  try {
    const { payload } = await jwtVerify(token, ctx.keys.getKey, {
      issuer: ctx.issuer,
      algorithms: ['RS256'],
      typ: 'JWT',
    });
    if (payload.typ !== 'Bearer') return undefined;
    if (typeof payload.jti === 'string' && ctx.store.isAccessTokenRevoked(payload.jti)) return undefined;
    if (typeof payload.sid === 'string' && !ctx.store.getSession(payload.sid)) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}

/** Outcome of `verifyRefreshToken`. */
export type RefreshCheck =
  | { ok: true; payload: JWTPayload; record: RefreshRecord; session: SsoSession; user: EmulatorUser }
  | { ok: false; description: string };

/**
 * Checks a refresh token the way Keycloak's refresh grant does; the descriptions are Keycloak's.
 * Reuse of an already used token is reported by the caller (it depends on the settings).
 */
export async function verifyRefreshToken(ctx: EmulatorContext, token: string): Promise<RefreshCheck> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, ctx.keys.refreshSecret, {
      issuer: ctx.issuer,
      algorithms: ['HS512'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, description: 'Token is not active' };
    return { ok: false, description: 'Invalid refresh token' };
  }
  const record = typeof payload.jti === 'string' ? ctx.store.getRefreshToken(payload.jti) : undefined;
  if (payload.typ !== 'Refresh' || !record) return { ok: false, description: 'Invalid refresh token' };
  if (ctx.store.isGrantRevoked(record.grantId)) return { ok: false, description: 'Token is not active' };
  const session = ctx.store.getSession(record.sid);
  if (!session) return { ok: false, description: 'Session not active' };
  const user = findUser(ctx, record.login);
  if (!user) return { ok: false, description: 'User not found' };
  if (user.active === false) return { ok: false, description: 'User disabled' };
  return { ok: true, payload, record, session, user };
}

/** A back-channel logout token (OIDC Back-Channel Logout 1.0, section 2.4) for one client. */
export async function signLogoutToken(
  ctx: EmulatorContext,
  clientId: string,
  session: SsoSession,
): Promise<string> {
  const iat = nowSec();
  return signJwt(
    ctx,
    {
      iat,
      exp: iat + 120,
      jti: randomUUID(),
      iss: ctx.issuer,
      aud: clientId,
      sub: session.login,
      typ: 'Logout',
      sid: session.sid,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    },
    { typ: 'logout+jwt' },
  );
}
