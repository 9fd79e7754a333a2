import express, { type Request, type RequestHandler, type Response } from 'express';

/** An OAuth 2.0 error answer (`{ error, error_description }`). */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

/** Parses `application/x-www-form-urlencoded` bodies (only), like Keycloak's endpoints. */
export const formParser: RequestHandler = express.urlencoded({ extended: false, limit: '100kb' });

/** A request's form body as a plain record (empty when there is none). */
export function formBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/** The query string as a plain record. */
export function queryParams(req: Request): Record<string, unknown> {
  return req.query;
}

/**
 * One parameter: `undefined` when absent or empty, an `invalid_request` error when repeated
 * (RFC 6749 §3.1: parameters must not be included more than once).
 */
export function param(source: Record<string, unknown>, name: string): string | undefined {
  const value = source[name];
  if (Array.isArray(value)) throw new OAuthError(400, 'invalid_request', `Duplicated parameter: ${name}`);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A parameter that may be repeated (e.g. `audience`), as a list of non-empty values. */
export function paramList(source: Record<string, unknown>, name: string): string[] {
  const value = source[name];
  const values = Array.isArray(value) ? value : [value];
  return values.filter((item): item is string => typeof item === 'string' && item !== '');
}

/** Sends an OAuth error as JSON. */
export function sendOAuthError(res: Response, error: OAuthError): void {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache', ...error.headers });
  res.status(error.status).json({ error: error.error, error_description: error.description });
}

/** Sends a token-endpoint style JSON answer that must not be cached. */
export function sendNoStore(res: Response, body: unknown): void {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  res.json(body);
}

/** Cookies of the request (no dependency on cookie-parser). */
export function parseCookies(req: Request): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    const raw = part.slice(index + 1).trim();
    try {
      if (!cookies.has(name)) cookies.set(name, decodeURIComponent(raw));
    } catch {
      // A malformed cookie is ignored, as browsers' peers do.
    }
  }
  return cookies;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The bearer token of `Authorization`, if any. */
export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(req.get('authorization') ?? '');
  return match?.[1];
}
