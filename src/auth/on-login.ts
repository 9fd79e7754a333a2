import { CernSsoError, onLoginFailed } from '../errors.js';
import type { OnLogin, OnLoginArgs } from '../login-hook.js';

/**
 * Runs the app's `onLogin`. A refusal (`ERR_LOGIN_DENIED`, from `loginDenied()`) passes through;
 * anything else it throws or rejects with becomes {@link onLoginFailed}.
 *
 * No timeout: the hook cannot be cancelled (it gets no signal), so answering early would leave it
 * running, still writing to `req.session` and the app's database while the browser is told the
 * sign-in failed. A hung hook is the app's to bound (its database client's timeouts), as a hung
 * route handler would be.
 */
export async function runOnLogin(onLogin: OnLogin, args: OnLoginArgs): Promise<void> {
  try {
    await onLogin(args);
  } catch (error) {
    if (error instanceof CernSsoError && error.code === 'ERR_LOGIN_DENIED') throw error;
    throw onLoginFailed(error);
  }
}
