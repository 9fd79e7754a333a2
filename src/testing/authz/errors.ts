import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

/**
 * An error the emulated API answers with: JSON `{ message }` and the given status (plus optional
 * headers such as `WWW-Authenticate`). Thrown from handlers and turned into a response by
 * {@link apiErrorHandler}.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Shorthand for a 400 with a message meant for the API client's developer. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, message);
}

/** Writes `{ message }` with the status and headers of `error`. */
export function sendApiError(res: Response, error: ApiError): void {
  res.status(error.status).set(error.headers).json({ message: error.message });
}

/** Final catch-all inside the router: unknown paths are a JSON 404, like the real API. */
export const notFoundHandler: RequestHandler = (req, res) => {
  sendApiError(res, new ApiError(404, `No such API resource: ${req.method} ${req.path}`));
};

/** For known paths with a method other than GET (or HEAD). */
export const methodNotAllowedHandler: RequestHandler = (req, res) => {
  sendApiError(res, new ApiError(405, `Method ${req.method} is not supported here`, { Allow: 'GET, HEAD' }));
};

/**
 * Turns anything thrown into JSON `{ message }`. Never leaks a stack trace: unexpected errors
 * become a generic 500. Express's own 4xx errors (e.g. a malformed `%` escape in a path
 * parameter, which the router reports as a 400 `URIError`) keep their status.
 */
export const apiErrorHandler: ErrorRequestHandler = (err: unknown, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  if (err instanceof ApiError) {
    sendApiError(res, err);
    return;
  }
  const status = statusOf(err);
  if (status !== undefined && status >= 400 && status < 500) {
    const message = err instanceof URIError ? 'Malformed percent-encoding in the URL' : 'Bad request';
    sendApiError(res, new ApiError(status, message));
    return;
  }
  sendApiError(res, new ApiError(500, 'Internal server error'));
};

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}
