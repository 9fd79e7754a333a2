import type { Request, Response } from 'express';
import { kBearer, kLoginPath, type CernSsoContext, type InternalContext } from '../context.js';
import { bearerChallenge } from '../challenge.js';
import { configError, forbidden, notAuthenticated } from '../errors.js';
import { emitRequestEvent } from '../events.js';
import { loginUrl } from '../login-url.js';
import { sendError, wantsHtml } from '../respond.js';

/** The `reason` of an `access_denied` event: `kind:value,value` (`role:admin`, `group:a,b`). */
export const requirement = (kind: string, values: readonly string[]): string => `${kind}:${values.join(',')}`;

/** The request's `req.sso`, or a clear 500 when neither `cernSso()` nor `bearerAuth()` ran. */
export function contextOf(req: Request, guard: string): CernSsoContext {
  const context = (req as { sso?: CernSsoContext }).sso;
  if (!context) {
    throw configError(
      `${guard} needs cernSso() or bearerAuth() to be mounted before it (req.sso is not set)`,
    );
  }
  return context;
}

/**
 * Anonymous request: browsers (Accept: text/html) on a GET go to the login route with
 * `returnTo`; everything else gets 401 JSON (with a Bearer challenge on API routes).
 */
export function denyAnonymous(req: Request, res: Response, context: CernSsoContext): void {
  // Audited whether the browser is sent to the login or the client gets 401: reason `auth`.
  emitRequestEvent(req, 'access_denied', { reason: 'auth' });
  const loginPath = (context as InternalContext)[kLoginPath];
  if (loginPath && wantsHtml(req) && (req.method === 'GET' || req.method === 'HEAD')) {
    res.set('Cache-Control', 'no-store');
    res.redirect(302, loginUrl(loginPath, [['returnTo', req.originalUrl]]));
    return;
  }
  const headers: Record<string, string> = loginPath ? {} : { 'WWW-Authenticate': 'Bearer' };
  sendError(req, res, notAuthenticated('Authentication required: please sign in.', headers));
}

/**
 * Signed in but lacking the group/role/claim: 403 (RFC 6750 `insufficient_scope` on API routes).
 * The challenge's `error_description` goes through the RFC 6750 §3 sanitiser (printable ASCII
 * without `"` and `\`, bounded), since requirements may name non-ASCII groups or values; the
 * JSON/HTML body keeps the message as it is. `scopes` (from `requireScope()`) go into the
 * challenge's `scope` attribute. `reason` is the `access_denied` event's (see {@link requirement}).
 */
export function denyForbidden(
  req: Request,
  res: Response,
  context: CernSsoContext,
  message: string,
  reason: string,
  scopes: readonly string[] = [],
): void {
  emitRequestEvent(req, 'access_denied', { reason });
  const isBearer = (context as InternalContext)[kBearer] === true;
  const headers: Record<string, string> = isBearer
    ? { 'WWW-Authenticate': bearerChallenge('insufficient_scope', message, scopes) }
    : {};
  sendError(req, res, forbidden(message, { bearer: isBearer, headers }));
}
