import type { Request } from 'express';
import type { CernClaims, CernUser } from './context.js';

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
