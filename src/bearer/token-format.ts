import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { invalidToken } from './errors.js';

/** A JWT decoded WITHOUT verification: only to route it (issuer, algorithm, key id). */
export interface UnverifiedJwt {
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
}

/**
 * Decodes a compact JWS without verifying it, or returns `undefined` for anything else (an
 * opaque token, introspected instead). A token whose header is a JWS header but whose payload
 * is not a JSON object is a malformed JWT (401). Nothing decoded here is trusted: it only
 * decides where (and whether) the token is checked.
 */
export function peekJwt(token: string): UnverifiedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] === '' || parts[1] === '') return undefined;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
  if (typeof header.alg !== 'string') return undefined;
  try {
    return { header, payload: decodeJwt(token) };
  } catch (error) {
    throw invalidToken('the token is malformed (its payload is not a JWT claims set)', error);
  }
}
