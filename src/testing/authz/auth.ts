import type { RequestHandler } from 'express';
import { ApiError } from './errors.js';

/** The audience an API token must carry, as in the real AuthZ API. */
export const AUTHZ_API_AUDIENCE = 'authorization-service-api';

/** Verifies a bearer token and returns its claims; throws when the token is invalid. */
export type VerifyApiToken = (token: string) => Promise<Record<string, unknown>>;

const BEARER = /^Bearer +([^\s]+) *$/i;

/**
 * Middleware requiring `Authorization: Bearer <api token>` whose `aud` (string or array)
 * includes {@link AUTHZ_API_AUDIENCE}. Failures are a 401 JSON `{ message }` with a
 * `WWW-Authenticate: Bearer` challenge (bare when no credentials were sent, RFC 6750 §3.1).
 * The claims are stored in `res.locals.authzClaims` for handlers that want them.
 */
export function requireApiToken(verify: VerifyApiToken): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (header === undefined || header.trim() === '') {
      throw new ApiError(401, 'Missing Authorization: Bearer token', { 'WWW-Authenticate': 'Bearer' });
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      throw new ApiError(401, 'Malformed Authorization header: expected "Bearer <token>"', {
        'WWW-Authenticate': 'Bearer error="invalid_request"',
      });
    }
    let claims: Record<string, unknown>;
    try {
      claims = await verify(token);
    } catch {
      // The reason stays server-side: the real API does not explain why a token was rejected.
      throw invalidToken('Invalid or expired API token');
    }
    if (!audiences(claims.aud).includes(AUTHZ_API_AUDIENCE)) {
      throw invalidToken(`API token audience must include '${AUTHZ_API_AUDIENCE}'`);
    }
    res.locals.authzClaims = claims;
    next();
  };
}

function invalidToken(message: string): ApiError {
  return new ApiError(401, message, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((value): value is string => typeof value === 'string');
  return [];
}
