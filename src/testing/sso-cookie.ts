import type { Request, Response } from 'express';
import type { EmulatorContext } from './context.js';
import { parseCookies } from './http.js';
import type { SsoSession } from './store.js';

/** Name of the browser cookie that carries the emulator's SSO session. */
export const SESSION_COOKIE = 'KEYCLOAK_SESSION';

function cookiePath(ctx: EmulatorContext): string {
  return `${ctx.realmPath}/`;
}

/** The SSO session of the browser, if its cookie points at an active one. */
export function sessionFromCookie(ctx: EmulatorContext, req: Request): SsoSession | undefined {
  const value = parseCookies(req).get(SESSION_COOKIE);
  return value === undefined ? undefined : ctx.store.sessionByCookie(value);
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, scoped to the realm's paths. */
export function setSessionCookie(ctx: EmulatorContext, res: Response, session: SsoSession): void {
  res.cookie(SESSION_COOKIE, session.cookie, { path: cookiePath(ctx), httpOnly: true, sameSite: 'lax' });
}

export function clearSessionCookie(ctx: EmulatorContext, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { path: cookiePath(ctx), httpOnly: true, sameSite: 'lax' });
}
