import type { Request, Response } from 'express';
import { failureLogFields } from '../error-mapper.js';
import type { CernSsoError } from '../errors.js';
import { eventPath, upstreamName, type EmitEvent } from '../events.js';
import type { Logger } from '../logger.js';
import { sendJsonError } from '../respond.js';

/**
 * Answers a failed bearer authentication per RFC 6750: the error's status and headers
 * (`WWW-Authenticate`, `Retry-After`) and the JSON body `{ error, error_description, code }`. The
 * token is never echoed, nor a stack trace; internal errors get a generic description. A 5xx
 * other than 503 is logged once, as an error naming what to fix (a misconfiguration's option
 * and URL), never a token or secret. `emit` audits it: `upstream_unavailable` for a 503,
 * `access_denied` for a 4xx (reason `auth` without a token, else the OAuth error), never naming a
 * user (the token was not accepted; a session's user is not the caller).
 */
export function sendBearerError(
  req: Request,
  res: Response,
  error: CernSsoError,
  logger: Logger,
  emit?: EmitEvent,
): void {
  if (emit && !res.headersSent) {
    if (error.code === 'ERR_UPSTREAM_UNAVAILABLE') {
      emit('upstream_unavailable', { path: eventPath(req), reason: upstreamName(error.message) });
    } else if (error.status < 500) {
      const reason = error.code === 'ERR_NOT_AUTHENTICATED' ? 'auth' : error.oauthError;
      emit('access_denied', { path: eventPath(req), reason });
    }
  }
  if (error.status >= 500 && error.status !== 503) {
    logger.error({ ...failureLogFields(error), method: req.method, path: req.path }, 'bearerAuth failed');
  }
  sendJsonError(res, error, 'Internal error while checking the access token');
}
