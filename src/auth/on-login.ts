import type { Request } from 'express';
import { CernSsoError, onLoginFailed } from '../errors.js';
import type { CernClaims, CernUser } from './user.js';

/** What `onLogin` is called with. */
export interface OnLoginArgs {
  /**
   * The callback request. `req.session` is the new session (its id already regenerated), not saved
   * yet: what the hook puts in it is part of the signed-in session from the next request on.
   */
  req: Request;
  /** The user who is signing in: the same `CernUser` as `req.sso.user` will be. */
  user: CernUser;
  /** The validated ID token claims (frozen). */
  claims: CernClaims;
}

/**
 * `cernSso({ onLogin })`: called once per sign-in, after the callback validated the tokens and
 * regenerated the session, before anything is stored. Throw `loginDenied(message)` to refuse the
 * sign-in (403 showing `message`); anything else thrown is a 500 "the sign-in could not be
 * completed", logged. Either way nobody is signed in.
 */
export type OnLogin = (args: OnLoginArgs) => void | Promise<void>;

/**
 * Runs the app's `onLogin`. A refusal (`ERR_LOGIN_DENIED`, from `loginDenied()`) passes through;
 * anything else it throws or rejects with becomes {@link onLoginFailed}.
 *
 * No timeout: the hook cannot be cancelled (it gets no signal), so answering early would leave it
 * running, still writing to `req.session` and the app's database while the browser is told the
 * sign-in failed. A hung hook is the app's bug to bound (its database client's timeouts), like a
 * hung route handler; Node's `server.requestTimeout` still ends the request.
 */
export async function runOnLogin(onLogin: OnLogin, args: OnLoginArgs): Promise<void> {
  try {
    await onLogin(args);
  } catch (error) {
    if (error instanceof CernSsoError && error.code === 'ERR_LOGIN_DENIED') throw error;
    throw onLoginFailed(error);
  }
}
