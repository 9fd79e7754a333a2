import type { CernClaims, CernUser } from '../context.js';
import { accountTypeOf } from './account-type.js';

// Declared in context.ts (what `req.sso` hands out); re-exported for the modules that map claims.
export type { CernClaims, CernUser };

function optionalString(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  return undefined;
}

export function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  if (typeof value === 'string' && value.length > 0) return [value];
  return [];
}

/** Users already mapped, by claims object (a signed-in session's claims are reused per request). */
const mappedUsers = new WeakMap<CernClaims, CernUser | undefined>();

/**
 * Maps CERN token claims to a `CernUser`; `undefined` when the claims name nobody. The same
 * claims object gives the same (frozen) user object.
 */
export function userFromClaims(claims: CernClaims | undefined): CernUser | undefined {
  if (!claims) return undefined;
  if (mappedUsers.has(claims)) return mappedUsers.get(claims);
  const user = mapUser(claims);
  if (user) Object.freeze(user.roles);
  mappedUsers.set(claims, user && Object.freeze(user));
  return user;
}

function mapUser(claims: CernClaims): CernUser | undefined {
  const login = optionalString(claims.cern_upn) ?? optionalString(claims.sub);
  if (!login) return undefined;
  const user: CernUser = {
    login,
    issuer: optionalString(claims.iss) ?? '',
    roles: stringList(claims.cern_roles),
  };
  const fields = {
    personId: optionalNumber(claims.cern_person_id),
    email: optionalString(claims.email),
    firstName: optionalString(claims.given_name),
    lastName: optionalString(claims.family_name),
    displayName: optionalString(claims.name),
    preferredLanguage: optionalString(claims.cern_preferred_language),
  };
  const accountType = accountTypeOf(claims, login, fields.personId);
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (user as unknown as Record<string, unknown>)[key] = value;
  }
  if (accountType !== undefined) user.accountType = accountType;
  return user;
}
