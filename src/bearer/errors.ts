import type { Request, Response } from 'express';
import { failureLogFields } from '../error-mapper.js';
import type { CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { sendJsonError } from '../respond.js';

/**
 * Answers a failed bearer authentication per RFC 6750: the error's status and headers
 * (`WWW-Authenticate`, `Retry-After`) and the JSON body `{ error, error_description, code }`. The
 * token is never echoed, nor a stack trace; internal errors get a generic description. A 5xx
 * other than 503 is logged once, as an error naming what to fix (a misconfiguration's option
 * and URL), never a token or secret.
 */
export function sendBearerError(req: Request, res: Response, error: CernSsoError, logger: Logger): void {
  if (error.status >= 500 && error.status !== 503) {
    logger.error({ ...failureLogFields(error), method: req.method, path: req.path }, 'bearerAuth failed');
  }
  sendJsonError(res, error, 'Internal error while checking the access token');
}
