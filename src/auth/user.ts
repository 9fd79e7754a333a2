/** The signed-in CERN user, mapped from the ID token (or access token) claims. */
export interface CernUser {
  /** CERN login (`cern_upn`, else `sub`). eduGAIN logins may contain `/`. */
  login: string;
  /** CERN person id (`cern_person_id`); absent for guests and eduGAIN users. */
  personId?: number;
  email?: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  /** `EN` or `FR`. */
  preferredLanguage?: string;
  /** Application Portal roles of this application (`cern_roles`). */
  roles: string[];
}

/** Validated token claims (ID token in sessions, access token on bearer routes). */
export type CernClaims = Record<string, unknown> & { sub?: string; iss?: string };

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

/** Maps CERN token claims to a `CernUser`; `undefined` when the claims name nobody. */
export function userFromClaims(claims: CernClaims | undefined): CernUser | undefined {
  if (!claims) return undefined;
  const login = optionalString(claims.cern_upn) ?? optionalString(claims.sub);
  if (!login) return undefined;
  const user: CernUser = { login, roles: stringList(claims.cern_roles) };
  const fields = {
    personId: optionalNumber(claims.cern_person_id),
    email: optionalString(claims.email),
    firstName: optionalString(claims.given_name),
    lastName: optionalString(claims.family_name),
    displayName: optionalString(claims.name),
    preferredLanguage: optionalString(claims.cern_preferred_language),
  };
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (user as unknown as Record<string, unknown>)[key] = value;
  }
  return user;
}
