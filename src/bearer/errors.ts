import type { Request, Response } from 'express';
import { bearerChallenge } from '../challenge.js';
import { CernSsoError, DEFAULT_RETRY_AFTER_SEC } from '../errors.js';
import type { Logger } from '../logger.js';
import { errorBody } from '../respond.js';

/** 401 `invalid_token`: expired, not yet valid, bad signature, wrong issuer/audience, garbage… */
export function invalidToken(description: string, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_INVALID_TOKEN', description, {
    status: 401,
    headers: { 'WWW-Authenticate': bearerChallenge('invalid_token', description) },
    cause,
  });
}

/** 400 `invalid_request`: a malformed `Authorization` header, a token in the URL or body… */
export function invalidRequest(description: string): CernSsoError {
  return new CernSsoError('ERR_INVALID_REQUEST', description, {
    status: 400,
    headers: { 'WWW-Authenticate': bearerChallenge('invalid_request', description) },
  });
}

/** 503 with `Retry-After`: the issuer's discovery, JWKS or introspection endpoint is down. */
export function issuerUnavailable(
  what: string,
  cause?: unknown,
  retryAfterSec: number = DEFAULT_RETRY_AFTER_SEC,
): CernSsoError {
  return new CernSsoError(
    'ERR_UPSTREAM_UNAVAILABLE',
    `${what} is unavailable, the token cannot be checked now: please retry shortly`,
    {
      status: 503,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSec))) },
      cause,
    },
  );
}

/**
 * Answers a failed bearer authentication per RFC 6750: the error's status and headers
 * (`WWW-Authenticate`, `Retry-After`) and the JSON body `{ error, error_description, code }`. The
 * token is never echoed, nor a stack trace; internal errors get a generic description.
 */
export function sendBearerError(req: Request, res: Response, error: CernSsoError, logger: Logger): void {
  if (error.status >= 500 && error.status !== 503) {
    logger.error(
      { err: error.cause ?? error, code: error.code, method: req.method, path: req.path },
      'bearerAuth failed',
    );
  }
  if (res.headersSent) return;
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.set('Cache-Control', 'no-store');
  res.json(errorBody(error, 'Internal error while checking the access token'));
}
