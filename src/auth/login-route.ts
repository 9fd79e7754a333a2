import type { Request, RequestHandler } from 'express';
import * as client from 'openid-client';
import { failureLogFields } from '../error-mapper.js';
import { sendError, toCernSsoError } from '../respond.js';
import {
  defaultAuthorizationQuery,
  queryAuthorizationParams,
  type AuthorizationQuery,
  type Prompt,
} from '../authorization-params.js';
import { bindingCookie, bindingDigest, newBinding, readBinding } from './browser-binding.js';
import { parseCookieHeader } from './cookie-header.js';
import {
  MAX_RETURN_TO_LENGTH,
  clearedLoginCookies,
  loginCookieId,
  loginsToDrop,
  pendingLoginCookies,
} from './login-cookies.js';
import { sealPendingLogin, type PendingLogin } from './login-seal.js';
import type { LoginTransaction } from './login-transaction.js';
import { safeReturnTo } from './return-to.js';
import { authorizationUrl, type AuthRuntime } from './runtime.js';
import { requireSession } from './session-ops.js';

/**
 * The authorization parameters of this login: the `authorizationParams` defaults, overridden by
 * the allowed, valid ones of the query. An unknown parameter or an invalid value in the query is
 * dropped (the login goes on without it), never an error: a login link stays usable.
 */
function loginParameters(req: Request, defaults: AuthorizationQuery): AuthorizationQuery {
  return { ...defaults, ...queryAuthorizationParams(req.query) };
}

/** What the callback must know of the parameters sent (sealed in the pending login). */
function askedFor(params: AuthorizationQuery): Pick<PendingLogin, 'prompt' | 'maxAge' | 'acrValues'> {
  return {
    ...(params.prompt === undefined ? {} : { prompt: params.prompt as Prompt }),
    ...(params.max_age === undefined ? {} : { maxAge: Number(params.max_age) }),
    ...(params.acr_values === undefined ? {} : { acrValues: params.acr_values }),
  };
}

/**
 * `returnTo`, or `/` when it is longer than its budget: `MAX_RETURN_TO_LENGTH` less what the
 * recorded parameters add to the sealed login, so the login cookie keeps its size bound.
 */
function returnToOf(req: Request, asked: object): string {
  const recorded = Object.keys(asked).length === 0 ? 0 : JSON.stringify(asked).length - 1;
  const returnTo = safeReturnTo(req.query.returnTo);
  return returnTo.length > MAX_RETURN_TO_LENGTH - recorded ? '/' : returnTo;
}

/**
 * `GET /login?returnTo=/path`: starts the authorization-code flow with PKCE S256, `state` and
 * `nonce`. The pending login goes to a sealed cookie of its own (one per tab, so parallel logins
 * complete), never to the session: nothing is stored on the server before a successful callback.
 * The login is bound to this browser by the browser-binding cookie (set here when missing).
 */
export function loginRoute(runtime: AuthRuntime, transaction: LoginTransaction): RequestHandler {
  const { cookies: settings, ttlMs } = transaction;
  const defaults = defaultAuthorizationQuery(runtime.config.authorizationParams);
  return async (req, res) => {
    try {
      // Only checks that express-session is mounted; the session is not touched (not stored).
      requireSession(req);
      const config = await runtime.discovery.get();
      await runtime.redirectCheck.verify();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const createdAt = runtime.now();
      const cookies = parseCookieHeader(req.headers.cookie);
      // One binding per browser, shared by its tabs: kept whenever a well-formed one is present
      // (a new one would strand the logins pending in other tabs).
      const existing = readBinding(cookies, settings.secure);
      const binding = existing ?? newBinding();
      const params = loginParameters(req, defaults);
      const asked = askedFor(params);
      const pending: PendingLogin = {
        state,
        nonce,
        codeVerifier,
        returnTo: returnToOf(req, asked),
        createdAt,
        binding: bindingDigest(binding),
        ...asked,
      };
      const sealed = await sealPendingLogin(pending, transaction.keys[0], ttlMs);
      const url = await authorizationUrl(config, runtime.callbackUrl, runtime.config.scope, codeVerifier, {
        ...params,
        state,
        nonce,
      });
      const dropped = loginsToDrop(cookies, createdAt, ttlMs);
      for (const id of dropped) res.append('Set-Cookie', clearedLoginCookies(settings, id));
      if (existing === undefined) res.append('Set-Cookie', bindingCookie(binding, settings.secure));
      res.append('Set-Cookie', pendingLoginCookies(settings, loginCookieId(state), sealed, createdAt));
      res.set('Cache-Control', 'no-store');
      res.redirect(302, url.href);
    } catch (error) {
      // A misconfiguration was logged where it was found (discovery, the redirect URI check).
      const failure = toCernSsoError(error);
      if (failure.status >= 500 && failure.status !== 503 && failure.code !== 'ERR_IDP_MISCONFIGURED')
        runtime.config.logger.error(failureLogFields(failure), 'login failed');
      sendError(req, res, failure);
    }
  };
}
