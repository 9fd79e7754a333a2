import type { Request, Response } from 'express';
import { builtInErrorPage, customErrorPage, pageLanguage, type PageLink } from './error-pages.js';
import { CernSsoError, internal, type CernSsoErrorCode } from './errors.js';
import { emitRequestEvent, upstreamName } from './events.js';

/** True when the client is a browser asking for a page (explicit `text/html` in `Accept`). */
export function wantsHtml(req: Request): boolean {
  const accept = req.get('accept') ?? '';
  return /\btext\/html\b/i.test(accept) && req.accepts(['html', 'json']) === 'html';
}

/** The one JSON error shape of the library: `{ error, error_description, code }`. */
export interface ErrorBody {
  /** The OAuth / RFC 6750 error code (`invalid_request`, `invalid_token`, `server_error`...). */
  error: string;
  /** A sentence for a person; never a token, a secret or a stack trace. */
  error_description: string;
  /** The library's stable `ERR_*` code. */
  code: CernSsoErrorCode;
}

/** Generic description of an error whose message is not for the client (internal errors). */
export const INTERNAL_DESCRIPTION = 'Internal error in the sign-in integration';

/** The JSON body for a library error; `description` replaces an unexposed message. */
export function errorBody(error: CernSsoError, description = INTERNAL_DESCRIPTION): ErrorBody {
  return {
    error: error.oauthError,
    error_description: error.expose ? error.message : description,
    code: error.code,
  };
}

/**
 * Answers with a library error: its status and headers, and a body a person understands
 * (an HTML page for browsers: the app's `renderError`, else the built-in page in English or
 * French; JSON {@link ErrorBody} otherwise). Never a stack trace.
 */
export function sendError(req: Request, res: Response, error: CernSsoError, link?: PageLink): void {
  if (res.headersSent) return;
  emitUpstreamEvent(req, error);
  if (!wantsHtml(req)) {
    sendJsonError(res, error);
    return;
  }
  setErrorHead(res, error);
  const custom = customErrorPage(req, error);
  if (custom !== undefined) {
    res.type('html').send(custom);
    return;
  }
  const lang = pageLanguage(req);
  res.set('Content-Language', lang);
  res.type('html').send(builtInErrorPage(error, lang, link));
}

/**
 * The one place an outage is audited: every 503 `ERR_UPSTREAM_UNAVAILABLE` of the library is
 * answered through {@link sendError} (or `bearerAuth()`'s answer, which calls this too).
 */
export function emitUpstreamEvent(req: Request, error: CernSsoError): void {
  if (error.code === 'ERR_UPSTREAM_UNAVAILABLE') {
    emitRequestEvent(req, 'upstream_unavailable', { reason: upstreamName(error.message) });
  }
}

/** The error's status and headers, and `Cache-Control: no-store`: the head of every error answer. */
function setErrorHead(res: Response, error: CernSsoError): void {
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.set('Cache-Control', 'no-store');
}

/** Answers with the JSON {@link ErrorBody}; `description` replaces an unexposed message. */
export function sendJsonError(res: Response, error: CernSsoError, description?: string): void {
  if (res.headersSent) return;
  setErrorHead(res, error);
  res.json(errorBody(error, description));
}

/** Wraps anything thrown into a `CernSsoError` (unknown errors become an opaque 500). */
export function toCernSsoError(error: unknown): CernSsoError {
  if (error instanceof CernSsoError) return error;
  return internal(error);
}
