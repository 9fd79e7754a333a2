import type { Request, RequestHandler } from 'express';
import * as client from 'openid-client';
import { sendError, toCernSsoError } from '../respond.js';
import { safeReturnTo } from './return-to.js';
import type { AuthRuntime } from './runtime.js';
import { prunePendingLogins } from './session-data.js';
import { requireSession, saveSession } from './session-ops.js';

/** Optional authorization parameters a caller may pass through `/login?...`. */
const PASSTHROUGH: Record<string, (value: string) => boolean> = {
  prompt: (value) => ['login', 'none', 'consent', 'select_account'].includes(value),
  login_hint: (value) => value.length <= 256,
  kc_idp_hint: (value) => /^[\w.-]{1,64}$/.test(value),
  ui_locales: (value) => /^[\w -]{1,64}$/.test(value),
};

function passthroughParameters(req: Request): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, valid] of Object.entries(PASSTHROUGH)) {
    const value = req.query[name];
    if (typeof value === 'string' && valid(value)) result[name] = value;
  }
  return result;
}

/**
 * `GET /login?returnTo=/path`: starts the authorization-code flow with PKCE S256, `state` and
 * `nonce`. Each tab gets its own pending login (keyed by `state`), so parallel logins complete.
 */
export function loginRoute(runtime: AuthRuntime): RequestHandler {
  return async (req, res) => {
    try {
      const session = requireSession(req);
      const config = await runtime.discovery.get();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const now = Date.now();
      const pending = prunePendingLogins(session.cernSsoLogins, now, runtime.config.loginTimeoutMs);
      pending[state] = { codeVerifier, nonce, returnTo: safeReturnTo(req.query.returnTo), createdAt: now };
      session.cernSsoLogins = pending;
      const url = client.buildAuthorizationUrl(config, {
        ...passthroughParameters(req),
        redirect_uri: runtime.callbackUrl,
        response_type: 'code',
        scope: runtime.config.scope,
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      });
      // The pending login must be stored before the browser comes back from Keycloak.
      await saveSession(req);
      res.set('Cache-Control', 'no-store');
      res.redirect(302, url.href);
    } catch (error) {
      const failure = toCernSsoError(error);
      if (failure.status >= 500 && failure.status !== 503)
        runtime.config.logger.error(`login failed: ${failure.message}`);
      sendError(req, res, failure);
    }
  };
}
