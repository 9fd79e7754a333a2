import type { Request, Response } from 'express';
import { CernSsoError, internal, type CernSsoErrorCode } from './errors.js';

/** True when the client is a browser asking for a page (explicit `text/html` in `Accept`). */
export function wantsHtml(req: Request): boolean {
  const accept = req.get('accept') ?? '';
  return /\btext\/html\b/i.test(accept) && req.accepts(['html', 'json']) === 'html';
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const TITLES: Record<number, string> = {
  400: 'Login failed',
  401: 'Sign-in required',
  403: 'Access denied',
  503: 'Service temporarily unavailable',
};

/** A small, self-contained error page; the message is already safe to show. */
export function errorPage(status: number, message: string, link?: { href: string; text: string }): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Request failed');
  const action = link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f6f9;color:#1c2733;margin:0;display:grid;place-items:center;min-height:100vh}
main{background:#fff;border-radius:10px;box-shadow:0 2px 12px #0002;padding:2rem 2.5rem;max-width:32rem}
h1{font-size:1.3rem;margin-top:0;color:#0033a0}a{color:#0033a0}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${action}</main></body></html>`;
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
 * (an HTML page for browsers, JSON {@link ErrorBody} otherwise). Never a stack trace.
 */
export function sendError(
  req: Request,
  res: Response,
  error: CernSsoError,
  link?: { href: string; text: string },
): void {
  if (res.headersSent) return;
  const body = errorBody(error);
  res.status(error.status);
  for (const [name, value] of Object.entries(error.headers)) res.set(name, value);
  res.set('Cache-Control', 'no-store');
  if (wantsHtml(req)) {
    res.type('html').send(errorPage(error.status, body.error_description, link));
  } else {
    res.json(body);
  }
}

/** Wraps anything thrown into a `CernSsoError` (unknown errors become an opaque 500). */
export function toCernSsoError(error: unknown): CernSsoError {
  if (error instanceof CernSsoError) return error;
  return internal(error);
}
