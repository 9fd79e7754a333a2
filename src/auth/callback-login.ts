import { CernSsoError, loginState } from '../errors.js';
import { bindingMatches, readBinding } from './browser-binding.js';
import { callbackState } from './callback-query.js';
import { parseCookieHeader } from './cookie-header.js';
import { SEALED_PREFIX, loginCookieId } from './login-cookies.js';
import { openPendingLogin, type PendingLogin } from './login-seal.js';
import type { LoginTransaction } from './login-transaction.js';
import { safeReturnTo } from './return-to.js';

/** What the callback does with a request, decided from its URL and `Cookie` header alone. */
export interface CallbackDecision {
  /** Id of the login cookies the request carried for its `state`: cleared whatever the outcome. */
  clear: string | undefined;
  outcome: { ok: true; login: PendingLogin } | { ok: false; error: CernSsoError };
}

/**
 * Finds the pending login a callback belongs to: the sealed cookie named after the query's
 * `state`, which must open with one of our keys, hold exactly that `state`, and be bound to the
 * browser-binding cookie the request carries (a genuine sealed cookie tossed in from a sibling
 * domain is not). Never throws: anything else is a 400 `ERR_LOGIN_STATE`.
 */
export async function decideCallback(
  url: string,
  cookieHeader: unknown,
  transaction: LoginTransaction,
  now: number,
): Promise<CallbackDecision> {
  let clear: string | undefined;
  try {
    const state = callbackState(url);
    const id = loginCookieId(state);
    const cookies = parseCookieHeader(cookieHeader);
    const sealed = cookies.get(`${SEALED_PREFIX}${id}`);
    if (sealed !== undefined) clear = id;
    const login = await openPendingLogin(sealed, state, transaction.keys, now, transaction.ttlMs);
    if (!bindingMatches(login.binding, readBinding(cookies, transaction.cookies.secure))) {
      throw loginState('unbound');
    }
    // Checked when stored, checked again: the cookie may come from an older version or key holder.
    return { clear, outcome: { ok: true, login: { ...login, returnTo: safeReturnTo(login.returnTo) } } };
  } catch (error) {
    const refusal = error instanceof CernSsoError ? error : loginState('unknown', error);
    return { clear, outcome: { ok: false, error: refusal } };
  }
}
