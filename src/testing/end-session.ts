import express, { type Request, type Response, type Router } from 'express';
import { compactVerify } from 'jose';
import { matchesRedirectUri, postLogoutUris } from './clients.js';
import type { EmulatorContext } from './context.js';
import { sendBackchannelLogouts } from './backchannel.js';
import { formBody, formParser, param, queryParams } from './http.js';
import { renderErrorPage, renderLoggedOutPage, sendHtml } from './login-page.js';
import { clearSessionCookie, sessionFromCookie } from './sso-cookie.js';
import type { SsoSession } from './store.js';

/**
 * Claims of an `id_token_hint` signed by this realm. Expired ID tokens are accepted, as Keycloak
 * does: a user coming back after a long idle period must still be able to log out.
 */
async function verifyIdTokenHint(
  ctx: EmulatorContext,
  token: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    const { payload } = await compactVerify(token, ctx.keys.getKey, { algorithms: ['RS256'] });
    const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
    if (typeof claims !== 'object' || claims === null) return undefined;
    const record = claims as Record<string, unknown>;
    return record.iss === ctx.issuer && record.typ === 'ID' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Ends the given SSO sessions and notifies their clients over the back channel. */
export async function endSessions(ctx: EmulatorContext, sids: Iterable<string>): Promise<void> {
  const ended: SsoSession[] = [];
  for (const sid of new Set(sids)) {
    const session = ctx.store.endSession(sid);
    if (session) ended.push(session);
  }
  await sendBackchannelLogouts(ctx, ended);
}

function errorPage(res: Response, message: string): void {
  sendHtml(res, 400, renderErrorPage(message));
}

/** RP-initiated logout (OIDC RP-Initiated Logout 1.0), without Keycloak's confirmation screen. */
async function endSessionEndpoint(
  ctx: EmulatorContext,
  req: Request,
  res: Response,
  params: Record<string, unknown>,
): Promise<void> {
  let idTokenHint: string | undefined;
  let clientId: string | undefined;
  let postLogoutRedirectUri: string | undefined;
  let state: string | undefined;
  try {
    idTokenHint = param(params, 'id_token_hint');
    clientId = param(params, 'client_id');
    postLogoutRedirectUri = param(params, 'post_logout_redirect_uri');
    state = param(params, 'state');
  } catch {
    errorPage(res, 'Invalid Request');
    return;
  }
  const hint = idTokenHint === undefined ? undefined : await verifyIdTokenHint(ctx, idTokenHint);
  if (idTokenHint !== undefined && !hint) {
    errorPage(res, 'Invalid parameter: id_token_hint');
    return;
  }
  const hintClient =
    typeof hint?.azp === 'string' ? hint.azp : typeof hint?.aud === 'string' ? hint.aud : undefined;
  if (clientId !== undefined && hintClient !== undefined && clientId !== hintClient) {
    errorPage(res, 'Parameter client_id different than the client in id_token_hint');
    return;
  }
  const effectiveClientId = clientId ?? hintClient;
  if (postLogoutRedirectUri !== undefined) {
    if (effectiveClientId === undefined) {
      errorPage(
        res,
        'Either the parameter client_id or id_token_hint is required when post_logout_redirect_uri is used.',
      );
      return;
    }
    const client = ctx.clients.get(effectiveClientId);
    if (!client || !matchesRedirectUri(postLogoutUris(client), postLogoutRedirectUri)) {
      errorPage(res, 'Invalid redirect uri');
      return;
    }
  }

  const sids: string[] = [];
  const fromCookie = sessionFromCookie(ctx, req);
  if (fromCookie) sids.push(fromCookie.sid);
  if (typeof hint?.sid === 'string') sids.push(hint.sid);
  await endSessions(ctx, sids);
  clearSessionCookie(ctx, res);

  if (postLogoutRedirectUri === undefined) {
    sendHtml(res, 200, renderLoggedOutPage());
    return;
  }
  const target = new URL(postLogoutRedirectUri);
  if (state !== undefined) target.searchParams.append('state', state);
  res.set('Cache-Control', 'no-store').redirect(302, target.href);
}

/** The end-session endpoint (GET and POST). */
export function endSessionRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  const path = `${ctx.realmPath}/protocol/openid-connect/logout`;
  router.get(path, (req, res) => endSessionEndpoint(ctx, req, res, queryParams(req)));
  router.post(path, formParser, (req, res) => endSessionEndpoint(ctx, req, res, formBody(req)));
  return router;
}
