import type { ErrorRequestHandler } from 'express';
import { CernSsoError, internal } from './errors.js';
import { normalizeLogger, type LoggerOption } from './logger.js';
import { sendError } from './respond.js';

/**
 * An Express error handler for the errors the library raises in your routes (e.g. a rejected
 * `await req.sso.getAccessToken()` or `identity.getUserGroups()`): the error's status and headers
 * (`Retry-After`), an HTML page for browsers or JSON otherwise, never a stack trace. Other errors
 * are passed on to your own handlers unless `handleAll` is set (then: an opaque 500).
 *
 * ```ts
 * app.use(cernSsoErrorHandler());
 * ```
 */
export function cernSsoErrorHandler(
  options: { handleAll?: boolean; logger?: LoggerOption } = {},
): ErrorRequestHandler {
  const logger = normalizeLogger(options.logger);
  return (error: unknown, req, res, next) => {
    if (!(error instanceof CernSsoError)) {
      if (!options.handleAll) {
        next(error);
        return;
      }
      logger.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
      sendError(req, res, internal(error));
      return;
    }
    // A misconfiguration was logged where it was found, with what to fix: not twice.
    if (error.status >= 500 && error.status !== 503 && error.code !== 'ERR_IDP_MISCONFIGURED') {
      logger.error(
        { err: error.cause ?? error, code: error.code, method: req.method, path: req.path },
        'request failed',
      );
    }
    sendError(req, res, error);
  };
}
