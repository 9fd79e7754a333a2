import express, { type Request, type Response, type Router } from 'express';
import { needsStepUp, settleAcr } from './acr.js';
import { matchesRedirectUri } from './clients.js';
import { findUser, type EmulatorContext } from './context.js';
import { issuerFor } from './faults.js';
import { formBody, formParser, OAuthError, param, queryParams } from './http.js';
import { LOGIN_TICKET_HEADER } from './login-tickets.js';
import { renderErrorPage, renderLoginPage, sendHtml } from './login-page.js';
import { DEMO_PASSWORD } from './seed.js';
import { sessionFromCookie, setSessionCookie } from './sso-cookie.js';
import type { AuthorizationRequest, SsoSession } from './store.js';
import { nowSec } from './tokens.js';
import type { EmulatorUser } from './types.js';

/** Outcome of validating an authorization request. */
type Parsed =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** Problems with the client or redirect URI: shown, never redirected (RFC 6749 §4.1.2.1). */
  | { kind: 'page'; message: string }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; error: OAuthError };

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
/** RFC 7636: 43 to 128 characters of the unreserved set (an S256 challenge is 43). */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

function tryParam(params: Record<string, unknown>, name: string): string | undefined | null {
  try {
    return param(params, name);
  } catch {
    return null;
  }
}

/** Validates an authorization request the way Keycloak does for a confidential client with PKCE required. */
export function parseAuthorizationRequest(ctx: EmulatorContext, params: Record<string, unknown>): Parsed {
  const clientId = tryParam(params, 'client_id');
  if (clientId === null) return { kind: 'page', message: 'Invalid parameter: client_id' };
  if (clientId === undefined) return { kind: 'page', message: 'Missing parameter: client_id' };
  const client = ctx.clients.get(clientId);
  if (!client) return { kind: 'page', message: 'Client not found.' };
  const redirectUri = tryParam(params, 'redirect_uri');
  if (redirectUri === undefined) return { kind: 'page', message: 'Missing parameter: redirect_uri' };
  if (redirectUri === null || !matchesRedirectUri(client.redirectUris, redirectUri)) {
    return { kind: 'page', message: 'Invalid parameter: redirect_uri' };
  }
  const state = tryParam(params, 'state') ?? undefined;
  try {
    const responseType = param(params, 'response_type');
    if (responseType === undefined) throw invalidRequest('Missing parameter: response_type');
    if (responseType !== 'code') {
      throw new OAuthError(
        400,
        'unsupported_response_type',
        'Client is not allowed to use this response_type',
      );
    }
    const responseMode = param(params, 'response_mode');
    if (responseMode !== undefined && responseMode !== 'query') {
      throw invalidRequest('Invalid parameter: response_mode');
    }
    if (param(params, 'request') !== undefined) {
      throw new OAuthError(400, 'request_not_supported', 'Request objects are not supported');
    }
    if (param(params, 'request_uri') !== undefined) {
      throw new OAuthError(400, 'request_uri_not_supported', 'request_uri is not supported');
    }
    const scopes = [...new Set((param(params, 'scope') ?? '').split(' ').filter(Boolean))];
    if (!scopes.includes('openid')) throw new OAuthError(400, 'invalid_scope', 'Missing scope: openid');
    const method = param(params, 'code_challenge_method');
    const challenge = param(params, 'code_challenge');
    if (method === undefined) throw invalidRequest('Missing parameter: code_challenge_method');
    if (method !== 'S256') throw invalidRequest('Invalid parameter: code_challenge_method');
    if (challenge === undefined) throw invalidRequest('Missing parameter: code_challenge');
    if (!PKCE_VALUE.test(challenge)) throw invalidRequest('Invalid parameter: code_challenge');
    const prompt = new Set((param(params, 'prompt') ?? '').split(' ').filter(Boolean));
    if ([...prompt].some((value) => !PROMPTS.has(value))) throw invalidRequest('Invalid parameter: prompt');
    if (prompt.has('none') && prompt.size > 1) throw invalidRequest('Invalid parameter: prompt');
    const maxAgeText = param(params, 'max_age');
    if (maxAgeText !== undefined && !/^\d{1,9}$/.test(maxAgeText)) {
      throw invalidRequest('Invalid parameter: max_age');
    }
    return {
      kind: 'ok',
      request: {
        clientId,
        redirectUri,
        scope: scopes.join(' '),
        state,
        nonce: param(params, 'nonce'),
        codeChallenge: challenge,
        prompt,
        maxAge: maxAgeText === undefined ? undefined : Number(maxAgeText),
        loginHint: param(params, 'login_hint'),
        acrValues: (param(params, 'acr_values') ?? '').split(' ').filter(Boolean),
      },
    };
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return { kind: 'redirect', redirectUri, state, error };
  }
}

function invalidRequest(description: string): OAuthError {
  return new OAuthError(400, 'invalid_request', description);
}

/** 302 to the client with the given query parameters added to its redirect URI. */
function redirectWith(res: Response, redirectUri: string, params: Record<string, string | undefined>): void {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  res.set('Cache-Control', 'no-store').redirect(302, url.href);
}

function redirectError(
  ctx: EmulatorContext,
  res: Response,
  redirectUri: string,
  state: string | undefined,
  error: OAuthError,
): void {
  redirectWith(res, redirectUri, {
    error: error.error,
    error_description: error.description,
    state,
    iss: issuerFor(ctx, res),
  });
}

/** Reuses the browser's session for the same user (a re-authentication), or starts a new one. */
function loginSession(ctx: EmulatorContext, login: string, current: SsoSession | undefined): SsoSession {
  if (current?.login === login) {
    current.authTime = nowSec();
    current.lastActive = Date.now();
    return current;
  }
  return ctx.store.createSession(login);
}

/** Issues the code and sends the browser back to the client (RFC 9207 `iss` included). */
function completeAuthorization(
  ctx: EmulatorContext,
  res: Response,
  request: AuthorizationRequest,
  session: SsoSession,
  authenticatedNow: boolean,
): void {
  settleAcr(ctx, request, session, findUser(ctx, session.login), authenticatedNow);
  session.clients.add(request.clientId);
  session.lastActive = Date.now();
  const code = ctx.store.createCode(request, session);
  setSessionCookie(ctx, res, session);
  redirectWith(res, request.redirectUri, {
    state: request.state,
    session_state: session.sid,
    iss: issuerFor(ctx, res),
    code,
  });
}

function showLoginForm(
  ctx: EmulatorContext,
  res: Response,
  pendingId: string,
  request: AuthorizationRequest,
  status = 200,
  form: { username?: string | undefined; error?: string } = { username: request.loginHint },
): void {
  const action = `${ctx.realmPath}/login-actions/authenticate?session_code=${encodeURIComponent(pendingId)}`;
  sendHtml(res, status, renderLoginPage({ action, clientId: request.clientId, ...form }));
}

function handleAuthorize(
  ctx: EmulatorContext,
  req: Request,
  res: Response,
  params: Record<string, unknown>,
): void {
  const parsed = parseAuthorizationRequest(ctx, params);
  if (parsed.kind === 'page') {
    sendHtml(res, 400, renderErrorPage(parsed.message));
    return;
  }
  if (parsed.kind === 'redirect') {
    redirectError(ctx, res, parsed.redirectUri, parsed.state, parsed.error);
    return;
  }
  const { request } = parsed;
  const current = sessionFromCookie(ctx, req);
  const fresh =
    current !== undefined &&
    !request.prompt.has('login') &&
    (request.maxAge === undefined || nowSec() - current.authTime <= request.maxAge) &&
    !needsStepUp(ctx, request, current);

  // emulator.login(): a one-time ticket names the user, whatever autoLogin says.
  const ticketLogin = ctx.loginTickets.take(req.get(LOGIN_TICKET_HEADER));
  // Like Keycloak, prompt=none shows no page: without a fresh SSO session nobody "types the
  // password" (autoLogin does not apply), the answer is login_required.
  const silent = request.prompt.has('none');
  const auto = ticketLogin ?? (silent ? false : ctx.settings.autoLogin);
  if (auto !== false) {
    // Tests: the configured user "types the password" (even for prompt=login).
    const user = findUser(ctx, auto);
    if (!user) {
      sendHtml(res, 500, renderErrorPage(`autoLogin user "${auto}" does not exist in the emulator.`));
      return;
    }
    if (user.active === false) {
      redirectError(ctx, res, request.redirectUri, request.state, accountDisabled());
      return;
    }
    const reuse = fresh && current.login === user.login;
    const session = reuse ? current : loginSession(ctx, user.login, current);
    completeAuthorization(ctx, res, request, session, !reuse);
    return;
  }
  if (fresh) {
    completeAuthorization(ctx, res, request, current, false);
    return;
  }
  if (silent) {
    redirectError(
      ctx,
      res,
      request.redirectUri,
      request.state,
      new OAuthError(400, 'login_required', 'Login required'),
    );
    return;
  }
  const pending = ctx.store.createPending(request);
  showLoginForm(ctx, res, pending.id, request);
}

function accountDisabled(): OAuthError {
  return new OAuthError(400, 'access_denied', 'Account is disabled, contact your administrator.');
}

/** Username or e-mail, case-insensitively (as Keycloak's login form accepts). */
function findUserForLogin(ctx: EmulatorContext, username: string): EmulatorUser | undefined {
  const wanted = username.toLowerCase();
  return (
    findUser(ctx, username) ??
    ctx.users.find((user) => user.login.toLowerCase() === wanted || user.email?.toLowerCase() === wanted)
  );
}

function handleLoginForm(ctx: EmulatorContext, req: Request, res: Response): void {
  const pendingId = tryParam(queryParams(req), 'session_code');
  const pending = typeof pendingId === 'string' ? ctx.store.getPending(pendingId) : undefined;
  if (!pending) {
    sendHtml(res, 400, renderErrorPage('Your login attempt timed out. Login will start from the beginning.'));
    return;
  }
  const { request } = pending;
  const client = ctx.clients.get(request.clientId);
  if (!client || !matchesRedirectUri(client.redirectUris, request.redirectUri)) {
    sendHtml(res, 400, renderErrorPage('Client not found.'));
    return;
  }
  const body = formBody(req);
  const username = typeof body.username === 'string' ? body.username.trim() : '';
  const password = typeof body.password === 'string' ? body.password : '';
  const user = username === '' ? undefined : findUserForLogin(ctx, username);
  if (!user || password !== (user.password ?? DEMO_PASSWORD)) {
    showLoginForm(ctx, res, pending.id, request, 401, { username, error: 'Invalid username or password.' });
    return;
  }
  if (user.active === false) {
    showLoginForm(ctx, res, pending.id, request, 401, { username, error: accountDisabled().description });
    return;
  }
  ctx.store.deletePending(pending.id);
  completeAuthorization(ctx, res, request, loginSession(ctx, user.login, sessionFromCookie(ctx, req)), true);
}

/** The authorization endpoint (GET and POST) and the login form's action. */
export function authorizeRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  const authPath = `${ctx.realmPath}/protocol/openid-connect/auth`;
  router.get(authPath, (req, res) => {
    handleAuthorize(ctx, req, res, queryParams(req));
  });
  router.post(authPath, formParser, (req, res) => {
    handleAuthorize(ctx, req, res, formBody(req));
  });
  router.post(`${ctx.realmPath}/login-actions/authenticate`, formParser, (req, res) => {
    handleLoginForm(ctx, req, res);
  });
  return router;
}
