import type { Request } from 'express';
import { invalidRequest as invalidProtocolRequest } from '../errors.js';

/** 400 `invalid_request` with its RFC 6750 challenge. */
const invalidRequest = (description: string) => invalidProtocolRequest(description, { bearer: true });

/** Longest `Authorization` header accepted (bytes of the whole value). */
export const MAX_AUTHORIZATION_LENGTH = 8 * 1024;

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** RFC 9110 §11.1 `auth-scheme` (a `token`), then the end of the value or a space. */
const AUTH_SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: |$)/;

/** Every `Authorization` header of the request: Node keeps only the first in `req.headers`. */
function authorizationHeaders(req: Request): string[] {
  const values: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    // The length first: most header names are not 13 characters long, no lower-cased copy.
    if (
      name !== undefined &&
      value !== undefined &&
      name.length === 13 &&
      name.toLowerCase() === 'authorization'
    ) {
      values.push(value);
    }
  }
  return values;
}

/** True when the query string names `access_token` (whatever Express's query parser does). */
function tokenInQuery(req: Request): boolean {
  const url = req.originalUrl || req.url;
  const index = url.indexOf('?');
  if (index < 0) return false;
  try {
    return new URLSearchParams(url.slice(index + 1)).has('access_token');
  } catch {
    return false;
  }
}

/** True when an already parsed body carries `access_token` (RFC 6750 §2.2 form parameter). */
function tokenInBody(req: Request): boolean {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && Object.hasOwn(body, 'access_token');
}

/**
 * The request's only `Authorization` header value, `undefined` without one. Refuses (400
 * `invalid_request`) an `access_token` in the URL or the body, several `Authorization` headers
 * and an oversized one. {@link bearerTokenOf} reads the token from the value.
 */
export function authorizationValue(req: Request): string | undefined {
  if (tokenInQuery(req)) {
    throw invalidRequest(
      'tokens in the URL are refused: send the access token in the Authorization header (Bearer)',
    );
  }
  if (tokenInBody(req)) {
    throw invalidRequest(
      'tokens in the request body are refused: send the access token in the Authorization header (Bearer)',
    );
  }
  const headers = authorizationHeaders(req);
  if (headers.length === 0) return undefined;
  if (headers.length > 1) throw invalidRequest('several Authorization headers: send exactly one');
  const [value = ''] = headers;
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    throw invalidRequest(`the Authorization header is longer than ${MAX_AUTHORIZATION_LENGTH} bytes`);
  }
  return value;
}

/**
 * What follows `Bearer ` (any case, one space) in `value`, unchecked; `undefined` for any other
 * shape. Only a key to look up tokens verified before: such a token already passed
 * {@link bearerTokenOf} when first seen, so finding it (by SHA-256) spares scanning it again.
 */
export function bearerCandidate(value: string): string | undefined {
  if (value.length <= 7 || value.charCodeAt(6) !== 32 || value.charCodeAt(7) === 32) return undefined;
  const scheme = value.slice(0, 6);
  return scheme === 'Bearer' || scheme.toLowerCase() === 'bearer' ? value.slice(7) : undefined;
}

/**
 * The bearer token of an `Authorization` header value, or `undefined` for credentials of another
 * scheme (`Basic …`). A malformed `Bearer` value (no token, several, characters a token cannot
 * have) or a value that is no credentials at all is a 400 `invalid_request`.
 */
export function bearerTokenOf(value: string): string | undefined {
  const scheme = AUTH_SCHEME.exec(value)?.[1];
  if (scheme === undefined) {
    throw invalidRequest('the Authorization header must be "Bearer <access token>"');
  }
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(value);
  const token = match?.[1];
  if (token === undefined) {
    throw invalidRequest('the Authorization header must be "Bearer <access token>"');
  }
  if (!B64TOKEN.test(token)) {
    throw invalidRequest('the bearer token contains characters a token cannot have');
  }
  return token;
}

/**
 * The bearer token of the request's `Authorization` header, or `undefined` when the request has
 * no Bearer credentials: no header, or credentials of another scheme (`Basic …`), which RFC 6750
 * §3.1 answers like a missing token (401 with a bare challenge). Tokens are only taken from that
 * header: an `access_token` query or body parameter is refused (URLs end up in logs, browser
 * history and Referer headers). A malformed `Bearer` header (no token, several, characters a
 * token cannot have), a value that is no credentials at all, several `Authorization` headers or
 * an oversized one are a 400 `invalid_request`.
 */
export function readBearerToken(req: Request): string | undefined {
  const value = authorizationValue(req);
  return value === undefined ? undefined : bearerTokenOf(value);
}
