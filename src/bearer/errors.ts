import type { Request, Response } from 'express';
import { failureLogText } from '../error-mapper.js';
import type { CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorBody } from '../respond.js';

/**
 * Answers a failed bearer authentication per RFC 6750: the error's status and headers
 * (`WWW-Authenticate`, `Retry-After`) and the JSON body `{ error, error_description, code }`. The
 * token is never echoed, nor a stack trace; internal errors get a generic description. A 5xx
 * other than 503 is logged once, as an error naming what to fix (a misconfiguration's option
 * and URL), never a token or secret.
 */
export function sendBearerError(req: Request, res: Response, error: CernSsoError, logger: Logger): void {
  if (error.status >= 500 && error.status !== 503) {
    logger.error(
      { err: error.cause, code: error.code },
      `bearerAuth failed on ${req.method} ${req.path}: ${failureLogText(error)}`,
    );
  }
  if (res.headersSent) return;
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.set('Cache-Control', 'no-store');
  res.json(errorBody(error, 'Internal error while checking the access token'));
}
