import type { RequestHandler } from 'express';
import * as client from 'openid-client';
import { eventPath } from '../events.js';
import { sendError, toCernSsoError } from '../respond.js';
import { appPath, type AuthRuntime } from './runtime.js';
import { SessionContext } from './session-context.js';
import { destroySession, requireSession } from './session-ops.js';
import { silentAttemptCookie } from './silent-login-cookie.js';

/**
 * `GET|POST /logout`: destroys the local session; with `idpLogout` also ends the SSO session at
 * Keycloak (RP-initiated logout with `id_token_hint`, `client_id`, `post_logout_redirect_uri`).
 */
export function logoutRoute(runtime: AuthRuntime): RequestHandler {
  const { config } = runtime;
  const postLogoutPath = appPath(runtime, config.routes.postLogoutRedirect);
  const postLogoutUrl = `${config.baseUrl}${config.routes.postLogoutRedirect}`;
  return async (req, res) => {
    try {
      const ref = requireSession(req).cernSso?.ref;
      // cernSso() loaded the sign-in for this request already: no second store read.
      const idToken = req.sso instanceof SessionContext ? req.sso.signedIn?.auth.tokens.idToken : undefined;
      const user = req.sso.user;
      await destroySession(req);
      if (ref !== undefined) runtime.records.remove(req, ref);
      runtime.emit('logout', { login: user?.login, issuer: user?.issuer, path: eventPath(req) });
      res.set('Cache-Control', 'no-store');
      // attemptSilentLogin() must not sign the browser straight back in (idpLogout: false).
      res.append('Set-Cookie', silentAttemptCookie(runtime));
      if (!config.idpLogout || !idToken) {
        res.redirect(302, postLogoutPath);
        return;
      }
      let endSessionUrl: URL | undefined;
      try {
        const oidc = await runtime.discovery.get();
        if (oidc.serverMetadata().end_session_endpoint) {
          endSessionUrl = client.buildEndSessionUrl(oidc, {
            id_token_hint: idToken,
            client_id: config.clientId,
            post_logout_redirect_uri: postLogoutUrl,
          });
        }
      } catch (error) {
        // The local session is gone already; Keycloak being down must not block logging out.
        config.logger.warn({ err: error }, 'single logout at the IdP skipped');
      }
      res.redirect(302, endSessionUrl?.href ?? postLogoutPath);
    } catch (error) {
      sendError(req, res, toCernSsoError(error));
    }
  };
}
