import { loginState } from '../errors.js';

/** Parameters of an authorization response that must appear at most once (RFC 6749 §3.1). */
const SINGLE = ['state', 'code', 'iss', 'error', 'error_description', 'error_uri', 'session_state'];

/**
 * Reads the callback's query string (the part after `?` of the request URL, as openid-client will
 * see it): a repeated response parameter or a missing `state` is a 400 `ERR_LOGIN_STATE`.
 */
export function callbackState(url: string): string {
  const mark = url.indexOf('?');
  const params = new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1));
  for (const name of SINGLE) {
    if (params.getAll(name).length > 1) throw loginState('repeated');
  }
  const state = params.get('state');
  if (state === null || state.length === 0) throw loginState('missing');
  return state;
}
