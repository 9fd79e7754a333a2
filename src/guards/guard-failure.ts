import type { Request, Response } from 'express';
import { kLogger, type CernSsoContext, type InternalContext } from '../context.js';
import type { CernSsoError } from '../errors.js';
import { internal } from '../errors.js';
import { consoleLogger, type Logger } from '../logger.js';
import { sendError, toCernSsoError } from '../respond.js';

/**
 * The logger of the `cernSso()` or `bearerAuth()` that set `req.sso`; the console (warnings and
 * errors) when there is none (no `req.sso`, or a context built elsewhere).
 */
export function guardLogger(req: Request): Logger {
  const context = (req as { sso?: CernSsoContext }).sso as InternalContext | undefined;
  return context?.[kLogger] ?? consoleLogger;
}

/**
 * Answers a guard's failure, whatever it is: internal errors (5xx other than 503) are logged
 * with the configured logger and answered as an opaque 500; if answering fails (e.g. a header
 * Node refuses), a bare 500 `ERR_INTERNAL` goes out instead. Never throws, never leaves the
 * request unanswered. `logger` defaults to {@link guardLogger}.
 */
export function answerGuardFailure(
  req: Request,
  res: Response,
  guard: string,
  error: unknown,
  logger: Logger = guardLogger(req),
): void {
  const failure = toCernSsoError(error);
  try {
    if (failure.status >= 500 && failure.status !== 503) {
      logger.error(
        { err: failure.cause ?? failure, code: failure.code, guard, method: req.method, path: req.path },
        'guard failed',
      );
    }
    sendError(req, res, failure);
  } catch (sendFailure) {
    answerInternal(req, res, guard, failure, sendFailure, logger);
  }
}

function answerInternal(
  req: Request,
  res: Response,
  guard: string,
  failure: CernSsoError,
  sendFailure: unknown,
  logger: Logger,
): void {
  try {
    logger.error({ err: sendFailure, guard, method: req.method, path: req.path }, 'guard could not answer');
  } catch {
    // A throwing logger must not keep the request from being answered.
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of Object.keys(failure.headers)) res.removeHeader(name);
  try {
    sendError(req, res, internal());
  } catch {
    res.destroy();
  }
}
