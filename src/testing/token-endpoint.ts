import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { authenticateClient } from './clients.js';
import { findUser, type EmulatorContext } from './context.js';
import { issuerFor } from './faults.js';
import { formBody, formParser, OAuthError, param, paramList, sendNoStore, sendOAuthError } from './http.js';
import {
  ACCESS_TOKEN_TYPE,
  identityClaims,
  issueUserTokens,
  serviceAccountClaims,
  signAccessToken,
  verifyAccessToken,
  verifyRefreshToken,
} from './tokens.js';
import type { EmulatorClient } from './types.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

function invalidGrant(description: string): OAuthError {
  return new OAuthError(400, 'invalid_grant', description);
}

function required(body: Record<string, unknown>, name: string): string {
  const value = param(body, name);
  if (value === undefined) throw new OAuthError(400, 'invalid_request', `Missing parameter: ${name}`);
  return value;
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** `authorization_code`: single use, 60 s, bound to client, redirect URI and PKCE verifier. */
async function authorizationCodeGrant(
  ctx: EmulatorContext,
  res: Response,
  client: EmulatorClient,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const code = ctx.store.getCode(required(body, 'code'));
  if (code?.request.clientId !== client.clientId) throw invalidGrant('Code not valid');
  if (code.used) {
    // A replayed code may be stolen: revoke everything issued from it (RFC 6749 §4.1.2).
    ctx.store.revokeGrant(code.grantId);
    throw invalidGrant('Code not valid');
  }
  code.used = true;
  if (code.expiresAt < Date.now()) throw invalidGrant('Code not valid');
  if (param(body, 'redirect_uri') !== code.request.redirectUri) throw invalidGrant('Incorrect redirect_uri');
  const verifier = param(body, 'code_verifier');
  if (verifier === undefined) throw invalidGrant('PKCE code verifier not specified');
  if (!PKCE_VALUE.test(verifier)) throw invalidGrant('Invalid code verifier');
  if (s256(verifier) !== code.request.codeChallenge)
    throw invalidGrant('PKCE verification failed: Code mismatch');
  const session = ctx.store.getSession(code.sid);
  if (!session) throw invalidGrant('Session not active');
  const user = findUser(ctx, code.login);
  if (!user) throw invalidGrant('User not found');
  session.lastActive = Date.now();
  return issueUserTokens(ctx, {
    iss: issuerFor(ctx, res),
    client,
    user,
    session,
    scope: code.request.scope,
    grantId: code.grantId,
    nonce: code.request.nonce,
  });
}

/** `refresh_token`: rotates the refresh token; with `revokeRefreshTokens`, each one works once. */
async function refreshTokenGrant(
  ctx: EmulatorContext,
  res: Response,
  client: EmulatorClient,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const check = await verifyRefreshToken(ctx, required(body, 'refresh_token'));
  if (!check.ok) throw invalidGrant(check.description);
  const { record, session, user } = check;
  if (record.clientId !== client.clientId) {
    throw invalidGrant("Invalid refresh token. Token client and authorized client don't match");
  }
  if (record.used && ctx.settings.revokeRefreshTokens) {
    throw invalidGrant('Maximum allowed refresh token reuse exceeded');
  }
  const requested = param(body, 'scope');
  const granted = record.scope.split(' ');
  if (requested?.split(' ').some((scope) => scope !== '' && !granted.includes(scope))) {
    throw new OAuthError(400, 'invalid_scope', 'Invalid scopes: ' + requested);
  }
  record.used = true;
  session.lastActive = Date.now();
  return issueUserTokens(ctx, {
    iss: issuerFor(ctx, res),
    client,
    user,
    session,
    scope: record.scope,
    grantId: record.grantId,
  });
}

/** `client_credentials`: an access token for the client's service account (no refresh token). */
export async function clientCredentialsToken(
  ctx: EmulatorContext,
  res: Response,
  client: EmulatorClient,
  options: { audience: readonly string[]; ttlSec: number; scope: string },
): Promise<Record<string, unknown>> {
  const accessToken = await signAccessToken(ctx, {
    iss: issuerFor(ctx, res),
    identity: serviceAccountClaims(client),
    azp: client.clientId,
    audience: options.audience,
    scope: options.scope,
    ttlSec: options.ttlSec,
  });
  return {
    access_token: accessToken,
    expires_in: options.ttlSec,
    refresh_expires_in: 0,
    token_type: 'Bearer',
    'not-before-policy': 0,
    scope: options.scope,
  };
}

/** RFC 8693 token exchange: the subject's identity, for another audience, on behalf of the caller. */
async function tokenExchangeGrant(
  ctx: EmulatorContext,
  res: Response,
  client: EmulatorClient,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const subjectToken = required(body, 'subject_token');
  const subjectType = required(body, 'subject_token_type');
  if (subjectType !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError(400, 'invalid_request', `Unsupported subject_token_type: ${subjectType}`);
  }
  const requestedType = param(body, 'requested_token_type');
  if (requestedType !== undefined && requestedType !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError(400, 'invalid_request', `Unsupported requested_token_type: ${requestedType}`);
  }
  const audience = paramList(body, 'audience');
  if (audience.length === 0) throw new OAuthError(400, 'invalid_request', 'Missing parameter: audience');
  const subject = await verifyAccessToken(ctx, subjectToken);
  // Keycloak 26 (standard token exchange) answers an invalid subject token with invalid_request.
  if (!subject || typeof subject.sub !== 'string')
    throw new OAuthError(400, 'invalid_request', 'Invalid token');
  const subjectAud = typeof subject.aud === 'string' ? [subject.aud] : (subject.aud ?? []);
  // Keycloak: only a client the subject token was issued to (or for) may exchange it.
  if (subject.azp !== client.clientId && !subjectAud.includes(client.clientId)) {
    throw new OAuthError(403, 'access_denied', 'Client is not within the token audience');
  }
  const user = findUser(ctx, subject.sub);
  if (user?.active === false) throw new OAuthError(400, 'invalid_request', 'User disabled');
  // Roles and groups claim as seen by the target application, when it is a registered client.
  const target = audience.map((id) => ctx.clients.get(id)).find((found) => found !== undefined);
  const identity = user
    ? identityClaims(ctx, user, target?.clientId ?? client.clientId, target)
    : pickIdentity(subject);
  const session = typeof subject.sid === 'string' ? ctx.store.getSession(subject.sid) : undefined;
  const scope = typeof subject.scope === 'string' ? subject.scope : 'openid';
  const accessToken = await signAccessToken(ctx, {
    iss: issuerFor(ctx, res),
    identity,
    azp: client.clientId,
    audience,
    scope,
    ttlSec: ctx.settings.accessTokenTtlSec,
    session,
  });
  return {
    access_token: accessToken,
    expires_in: ctx.settings.accessTokenTtlSec,
    refresh_expires_in: 0,
    token_type: 'Bearer',
    issued_token_type: ACCESS_TOKEN_TYPE,
    'not-before-policy': 0,
    ...(session ? { session_state: session.sid } : {}),
    scope,
  };
}

const IDENTITY_CLAIMS = [
  'sub',
  'cern_upn',
  'cern_person_id',
  'name',
  'given_name',
  'family_name',
  'email',
  'preferred_username',
  'cern_preferred_language',
  'cern_roles',
];

/** Identity claims copied from a subject token whose user the emulator does not know. */
function pickIdentity(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    IDENTITY_CLAIMS.filter((name) => name in claims).map((name) => [name, claims[name]]),
  );
}

/** Runs a token request handler and turns `OAuthError`s into OAuth JSON answers. */
export async function answerTokenRequest(
  res: Response,
  handler: () => Promise<Record<string, unknown>>,
): Promise<void> {
  try {
    sendNoStore(res, await handler());
  } catch (error) {
    if (error instanceof OAuthError) sendOAuthError(res, error);
    else throw error;
  }
}

async function tokenRequest(
  ctx: EmulatorContext,
  req: Request,
  res: Response,
): Promise<Record<string, unknown>> {
  const body = formBody(req);
  const grantType = param(body, 'grant_type');
  if (grantType === undefined)
    throw new OAuthError(400, 'invalid_request', 'Missing form parameter: grant_type');
  // Keycloak's token endpoint answers a known client's wrong secret with `unauthorized_client`.
  const client = authenticateClient(ctx, req, body, 'unauthorized_client');
  switch (grantType) {
    case 'authorization_code':
      return authorizationCodeGrant(ctx, res, client, body);
    case 'refresh_token':
      return refreshTokenGrant(ctx, res, client, body);
    case 'client_credentials':
      // Like Keycloak, `audience` is ignored here: API tokens come from the api-access endpoint.
      return clientCredentialsToken(ctx, res, client, {
        audience: client.accessTokenAudience ?? [client.clientId],
        ttlSec: ctx.settings.accessTokenTtlSec,
        scope: param(body, 'scope') ?? 'profile email',
      });
    case TOKEN_EXCHANGE:
      return tokenExchangeGrant(ctx, res, client, body);
    default:
      throw new OAuthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grantType}`);
  }
}

/** The token endpoint. */
export function tokenRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  router.post(`${ctx.realmPath}/protocol/openid-connect/token`, formParser, async (req, res) => {
    await answerTokenRequest(res, () => tokenRequest(ctx, req, res));
  });
  return router;
}
