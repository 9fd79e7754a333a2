import { kBearer, kLoginPath, kLogger, type InternalContext } from '../context.js';
import { notAuthenticated } from '../errors.js';
import { kEmitEvent, type EmitEvent } from '../events.js';
import type { Logger } from '../logger.js';

/**
 * `req.sso` of a request that `bearerAuth({ optional: true })` let through without Bearer
 * credentials and without a context of `cernSso()`: nobody is signed in. No login route, so the
 * guards answer 401 JSON with a bare `WWW-Authenticate: Bearer` challenge (RFC 6750).
 */
export function anonymousContext(logger: Logger, emit?: EmitEvent): InternalContext {
  const anonymous = () =>
    Promise.reject(notAuthenticated('an access token is required (Authorization: Bearer)'));
  return {
    [kLoginPath]: undefined,
    [kBearer]: true,
    [kLogger]: logger,
    [kEmitEvent]: emit,
    isAuthenticated: () => false,
    user: undefined,
    claims: undefined,
    getAccessToken: anonymous,
    groups: anonymous,
    inGroup: () => Promise.resolve(false),
    exchangeToken: anonymous,
  };
}
