import type { Request, RequestHandler, Response } from 'express';
import * as client from 'openid-client';
import { SIGN_IN_AGAIN } from '../error-pages.js';
import {
  LOGIN_SERVICE,
  MISCONFIGURED,
  failureLogFields,
  mapUpstreamError,
  upstreamTextForLog,
} from '../error-mapper.js';
import { acrNotAchieved, loginFailed, loginStateLogNote, type CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { sendError, toCernSsoError } from '../respond.js';
import { decideCallback } from './callback-login.js';
import { clearedLoginCookies } from './login-cookies.js';
import type { PendingLogin } from './login-seal.js';
import type { LoginTransaction } from './login-transaction.js';
import { appPath, type AuthRuntime } from './runtime.js';
import { tokensFromResponse } from './tokens.js';
import type { SessionAuth } from './session-data.js';
import { destroySession, regenerateSession, requireSession, saveSession } from './session-ops.js';
import type { OnLogin } from '../login-hook.js';
import { eventPath } from '../events.js';
import { runOnLogin } from './on-login.js';
import { deepFreeze } from './session-records.js';
import { stringList, userFromClaims, type CernClaims } from './user.js';

/** The pending login of this callback; its cookies are cleared whatever comes next (single use). */
async function takePendingLogin(
  req: Request,
  res: Response,
  transaction: LoginTransaction,
  now: number,
): Promise<PendingLogin> {
  const { clear, outcome } = await decideCallback(req.originalUrl, req.headers.cookie, transaction, now);
  if (clear !== undefined) res.append('Set-Cookie', clearedLoginCookies(transaction.cookies, clear));
  if (!outcome.ok) throw outcome.error;
  return outcome.login;
}

/**
 * OIDC Core §3.1.2.6: the answers to `prompt=none` that only mean "no SSO session (or it would
 * need a page)". A silent login that gets one returns to `returnTo`, anonymous.
 */
const SILENT_LOGIN_FAILURES = new Set([
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
]);

/**
 * Whether `error` is a silent login (the sealed pending login asked `prompt=none`, not the
 * callback's query) that Keycloak answered "not without a page". openid-client raises the
 * `AuthorizationResponseError` only after checking `iss` and `state`.
 */
function silentLoginFailed(error: unknown, login: PendingLogin): boolean {
  return (
    login.prompt === 'none' &&
    error instanceof client.AuthorizationResponseError &&
    SILENT_LOGIN_FAILURES.has(error.error)
  );
}

/** Whether the ID token's `acr` is one of the space-separated `acrValues` asked for. */
function acrValueOf(claims: CernClaims, acrValues: string): boolean {
  return typeof claims.acr === 'string' && acrValues.split(' ').includes(claims.acr);
}

/** The step-up parameters of the login (kept with the sign-in: see `SessionAuth.askedFor`). */
function stepUpAsked(login: PendingLogin): SessionAuth['askedFor'] {
  if (login.maxAge === undefined && login.acrValues === undefined) return undefined;
  return {
    ...(login.maxAge === undefined ? {} : { maxAge: login.maxAge }),
    ...(login.acrValues === undefined ? {} : { acrValues: login.acrValues }),
  };
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

/** For the log only: what the provider said about a refused sign-in, cut and cleaned. */
function upstreamSaid(cause: unknown): { upstreamDescription?: string } {
  if (!(cause instanceof client.AuthorizationResponseError)) return {};
  const description = upstreamTextForLog(cause.error_description);
  return description ? { upstreamDescription: description } : {};
}

/**
 * One line per failed callback. A misconfiguration is not logged here: it was, where it was
 * found, with what to fix.
 */
function logFailure(logger: Logger, failure: CernSsoError): void {
  if (failure.code === 'ERR_IDP_MISCONFIGURED') return;
  if (failure.status === 503) logger.warn(failureLogFields(failure), 'sign-in callback failed');
  else if (failure.status >= 500) {
    const [reason] = failure.details;
    logger.error({ ...failureLogFields(failure), ...(reason ? { reason } : {}) }, 'sign-in callback failed');
  } else {
    const reason = loginStateLogNote(failure).replace(/^ \(reason: ([\s\S]*)\)$/, '$1');
    logger.warn(
      {
        err: failure,
        code: failure.code,
        status: failure.status,
        ...(failure.code === 'ERR_LOGIN_STATE' ? { loginState: failure.details[0] } : {}),
        ...(reason === '' ? {} : { reason }),
        ...upstreamSaid(failure.cause),
      },
      'sign-in rejected',
    );
  }
}

/**
 * The app's `onLogin` for the user of `claims`. When it refuses or fails, the new session (which
 * it may have written to) is destroyed: nothing the hook stored survives, no session cookie is
 * sent, and nothing of the sign-in was stored yet. (The natural place for the `login_denied` and
 * `login_failed` events of `onEvent`.)
 */
async function admit(req: Request, onLogin: OnLogin, claims: CernClaims, logger: Logger): Promise<void> {
  const user = userFromClaims(claims);
  if (!user) throw loginFailed('The sign-in response carried no identity.');
  try {
    await runOnLogin(onLogin, { req, user, claims });
  } catch (error) {
    // express-session drops `req.session` at once, even when its store then fails: never saved.
    await destroySession(req).catch((cause: unknown) => {
      logger.warn({ err: cause }, 'could not discard the session of a refused sign-in');
    });
    throw error;
  }
}

/**
 * `GET /oidc/callback`: validates state, PKCE, nonce and `iss`, exchanges the code, then creates
 * the session (a new id: session fixation), lets the app's `onLogin` admit or refuse the user,
 * stores the tokens server-side and redirects to `returnTo`. This is the first moment anything is stored on the server for this browser.
 */
export function callbackRoute(runtime: AuthRuntime, transaction: LoginTransaction): RequestHandler {
  const { logger } = runtime.config;
  const loginPath = runtime.config.routes.login;
  const retryLink =
    loginPath === false ? undefined : { href: appPath(runtime, loginPath), text: SIGN_IN_AGAIN };
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
    // The user once the tokens are validated: named in `login_denied`/`login_failed` after that.
    let user: { login: string; issuer: string } | undefined;
    try {
      requireSession(req);
      const login = await takePendingLogin(req, res, transaction, runtime.now());
      const config = await runtime.discovery.get();
      let response: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        response = await client.authorizationCodeGrant(config, callbackUrlWithQuery(req, runtime), {
          pkceCodeVerifier: login.codeVerifier,
          expectedState: login.state,
          expectedNonce: login.nonce,
          idTokenExpected: true,
          // `auth_time` present and within `max_age` when the login sent one (OIDC Core §3.1.2.1).
          ...(login.maxAge === undefined ? {} : { maxAge: login.maxAge }),
        });
      } catch (error) {
        if (silentLoginFailed(error, login)) {
          // The login cookies are cleared (above); nothing is stored: the browser stays anonymous.
          logger.debug(
            { reason: (error as client.AuthorizationResponseError).error },
            'silent login: not signed in',
          );
          res.set('Cache-Control', 'no-store');
          res.redirect(302, appPath(runtime, login.returnTo));
          return;
        }
        const failure = mapUpstreamError(error, {
          what: LOGIN_SERVICE,
          url: config.serverMetadata().token_endpoint,
          action: 'Sign-in',
        });
        if (failure.code === 'ERR_IDP_MISCONFIGURED') logger.error(failureLogFields(failure), MISCONFIGURED);
        throw failure;
      }
      const claims = response.claims() as CernClaims | undefined;
      if (!claims?.sub) throw loginFailed('The sign-in response carried no identity.');
      // OIDC Core §3.1.2.1 does not make the provider honour `acr_values`: check what it did.
      if (login.acrValues !== undefined && !acrValueOf(claims, login.acrValues)) {
        throw acrNotAchieved(login.acrValues, claims.acr);
      }
      const auth: SessionAuth = {
        tokens: tokensFromResponse(response, runtime.now()),
        claims,
        sub: claims.sub,
        loggedInAt: runtime.now(),
      };
      const askedFor = stepUpAsked(login);
      if (askedFor) auth.askedFor = askedFor;
      const sid = typeof claims.sid === 'string' ? claims.sid : undefined;
      if (sid) auth.sid = sid;
      user = userFromClaims(claims);

      // A new session id at login (OWASP session fixation), whatever the browser had before.
      await regenerateSession(req);
      warnAboutInsecureCookie(requireSession(req).cookie.secure);
      const { onLogin } = runtime.config;
      if (onLogin) await admit(req, onLogin, deepFreeze(claims), logger);
      // Read again: the hook may have regenerated the session itself.
      const session = requireSession(req);
      // Tokens and claims go to a record of their own; the session only points to it.
      const signedIn = await runtime.records.create(req, auth);
      session.cernSso = { ref: signedIn.ref };
      await saveSession(req);

      if (Array.isArray(claims.groups) && runtime.identity.seedUserGroups) {
        const login = typeof claims.cern_upn === 'string' ? claims.cern_upn : claims.sub;
        await runtime.identity.seedUserGroups(login, stringList(claims.groups)).catch((error: unknown) => {
          logger.warn({ err: error }, 'could not cache the groups claim');
        });
      }
      runtime.emit('login', { login: user?.login, issuer: user?.issuer, path: eventPath(req) });
      res.set('Cache-Control', 'no-store');
      res.redirect(302, appPath(runtime, login.returnTo));
    } catch (error) {
      const failure = toCernSsoError(error);
      logFailure(logger, failure);
      runtime.emit(failure.code === 'ERR_LOGIN_DENIED' ? 'login_denied' : 'login_failed', {
        login: user?.login,
        issuer: user?.issuer,
        path: eventPath(req),
        reason: failure.code,
      });
      sendError(req, res, failure, retryLink);
    }
  };
}
