import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { EmulatorContext } from './context.js';
import { OAuthError, param } from './http.js';
import type { EmulatorClient } from './types.js';

/**
 * Keycloak's redirect URI rule: exact match, or a prefix match when the registered value ends
 * with `*`. URIs with a fragment never match (RFC 6749 §3.1.2).
 */
export function matchesRedirectUri(allowed: readonly string[], uri: string): boolean {
  if (uri.includes('#')) return false;
  return allowed.some((pattern) =>
    pattern.endsWith('*') ? uri.startsWith(pattern.slice(0, -1)) : pattern === uri,
  );
}

/** Post-logout redirect URIs allowed for a client (default: its redirect URI rules). */
export function postLogoutUris(client: EmulatorClient): readonly string[] {
  return client.postLogoutRedirectUris ?? client.redirectUris;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** `application/x-www-form-urlencoded` decoding of a Basic credential part (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * How a wrong secret of a known client is answered: Keycloak's token endpoint says
 * `unauthorized_client` (401), and so does its revocation endpoint; introspection says `invalid_client`.
 */
export type WrongSecretError = 'invalid_client' | 'unauthorized_client';

/**
 * Authenticates the calling client by `client_secret_basic` or `client_secret_post`.
 * Throws `invalid_client` (401) for unknown clients, and `wrongSecret` (401) for a wrong secret.
 */
export function authenticateClient(
  ctx: EmulatorContext,
  req: Request,
  body: Record<string, unknown>,
  wrongSecret: WrongSecretError = 'invalid_client',
): EmulatorClient {
  const header = req.get('authorization');
  const bodyId = param(body, 'client_id');
  let clientId: string | undefined;
  let secret: string | undefined;
  if (header !== undefined && /^Basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      if (colon < 0) throw new Error('no colon');
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw invalidClient('Invalid client authentication header');
    }
    if (param(body, 'client_secret') !== undefined) {
      throw new OAuthError(400, 'invalid_request', 'Multiple client authentication methods used');
    }
    if (bodyId !== undefined && bodyId !== clientId) {
      throw invalidClient('client_id does not match the authenticated client');
    }
  } else {
    clientId = bodyId;
    secret = param(body, 'client_secret');
  }
  if (clientId === undefined) throw invalidClient('Missing parameter: client_id');
  const client = ctx.clients.get(clientId);
  if (!client) throw invalidClient('Invalid client or Invalid client credentials');
  if (secret === undefined || !safeEqual(secret, client.clientSecret)) {
    throw invalidClient('Invalid client or Invalid client credentials', wrongSecret);
  }
  return client;
}

/** Keycloak sends no `WWW-Authenticate` challenge with these 401s, even after Basic authentication. */
function invalidClient(description: string, error: WrongSecretError = 'invalid_client'): OAuthError {
  return new OAuthError(401, error, description);
}
