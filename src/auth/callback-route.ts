import type { Request, RequestHandler } from 'express';
import * as client from 'openid-client';
import { CernSsoError } from '../errors.js';
import { describeError } from '../logger.js';
import { sendError, toCernSsoError } from '../respond.js';
import { oauthFailure } from './oauth-errors.js';
import { appPath, type AuthRuntime } from './runtime.js';
import { tokensFromResponse } from './tokens.js';
import type { PendingLogin, SessionAuth } from './session-data.js';
import { regenerateSession, requireSession, saveSession } from './session-ops.js';
import { stringList, type CernClaims } from './user.js';

function loginStateError(message: string): CernSsoError {
  return new CernSsoError('ERR_LOGIN_STATE', message, { status: 400 });
}

/** Finds and consumes (single use) the pending login this callback belongs to. */
function takePendingLogin(req: Request, runtime: AuthRuntime): { state: string; login: PendingLogin } {
  const session = requireSession(req);
  const state = req.query.state;
  if (typeof state !== 'string' || state.length === 0) {
    throw loginStateError(
      'The sign-in response is missing its "state" parameter. Please start the sign-in again.',
    );
  }
  const pending = session.cernSsoLogins ?? {};
  const login = pending[state];
  if (!login) {
    throw loginStateError(
      'This sign-in link is unknown, expired or was already used (are cookies enabled?). Please start the sign-in again.',
    );
  }
  session.cernSsoLogins = Object.fromEntries(Object.entries(pending).filter(([key]) => key !== state));
  if (Date.now() - login.createdAt > runtime.config.loginTimeoutMs) {
    throw loginStateError('The sign-in took too long and has expired. Please start the sign-in again.');
  }
  return { state, login };
}

/**
 * The URL openid-client validates the response against: the configured redirect URI plus the
 * query Keycloak sent (with `iss`, RFC 9207). Never derived from Host/proto headers.
 */
function callbackUrlWithQuery(req: Request, runtime: AuthRuntime): URL {
  const url = new URL(runtime.callbackUrl);
  const query = req.originalUrl.indexOf('?');
  url.search = query === -1 ? '' : req.originalUrl.slice(query);
  return url;
}

/**
 * `GET /oidc/callback`: validates state, PKCE, nonce and `iss`, exchanges the code, regenerates
 * the session id (session fixation), stores the tokens server-side and redirects to `returnTo`.
 */
export function callbackRoute(runtime: AuthRuntime): RequestHandler {
  const { logger } = runtime.config;
  const loginPath = runtime.config.routes.login;
  const retryLink =
    loginPath === false ? undefined : { href: appPath(runtime, loginPath), text: 'Sign in again' };
  // An https app whose session cookie is not `secure` sends it over plain http too (OWASP).
  let cookieChecked = false;
  const warnAboutInsecureCookie = (secure: boolean | 'auto' | undefined): void => {
    if (cookieChecked) return;
    cookieChecked = true;
    if (runtime.config.baseUrl.startsWith('https:') && secure !== true && secure !== 'auto') {
      logger.warn(
        'the session cookie is not "secure" although baseUrl is https: set cookie: { secure: true } ' +
          "in express-session (and app.set('trust proxy', 1) behind a TLS-terminating proxy)",
      );
    }
  };
  return async (req, res) => {
    try {
      const { state, login } = takePendingLogin(req, runtime);
      const config = await runtime.discovery.get();
      let response: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        response = await client.authorizationCodeGrant(config, callbackUrlWithQuery(req, runtime), {
          pkceCodeVerifier: login.codeVerifier,
          expectedState: state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
        });
      } catch (error) {
        throw oauthFailure(error, 'Sign-in');
      }
      const claims = response.claims() as CernClaims | undefined;
      if (!claims?.sub)
        throw new CernSsoError('ERR_LOGIN_FAILED', 'The sign-in response carried no identity.', {
          status: 400,
        });
      const auth: SessionAuth = {
        tokens: tokensFromResponse(response),
        claims,
        sub: claims.sub,
        loggedInAt: Date.now(),
      };
      const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
      if (sid) auth.sid = sid;

      // New session id at login (OWASP session fixation), keeping other tabs' pending logins.
      const otherLogins = requireSession(req).cernSsoLogins;
      await regenerateSession(req);
      const session = requireSession(req);
      if (otherLogins && Object.keys(otherLogins).length > 0) session.cernSsoLogins = otherLogins;
      warnAboutInsecureCookie(session.cookie.secure);
      // Tokens and claims go to a record of their own; the session only points to it.
      const signedIn = await runtime.records.create(req, auth);
      session.cernSso = { ref: signedIn.ref };
      await saveSession(req);

      if (Array.isArray(claims.groups) && runtime.identity.seedUserGroups) {
        const login = typeof claims.cern_upn === 'string' ? claims.cern_upn : claims.sub;
        await runtime.identity.seedUserGroups(login, stringList(claims.groups)).catch((error: unknown) => {
          logger.warn(`could not cache the groups claim: ${describeError(error)}`);
        });
      }
      res.set('Cache-Control', 'no-store');
      res.redirect(302, appPath(runtime, login.returnTo));
    } catch (error) {
      const failure = toCernSsoError(error);
      if (failure.status >= 500)
        logger.error(`sign-in callback failed: ${describeError(failure.cause ?? failure)}`);
      else logger.warn(`sign-in rejected: ${failure.message}`);
      sendError(req, res, failure, retryLink);
    }
  };
}
