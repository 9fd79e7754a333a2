import type { CernIdentity } from './types.js';

/** AuthZ identity fields the library reads; sent as `field=` so responses stay small. */
export const IDENTITY_API_FIELDS = [
  'upn',
  'displayName',
  'firstName',
  'lastName',
  'personId',
  'primaryAccountEmail',
  'instituteName',
  'telephone1',
] as const;

/** CERN internal extensions: exactly five digits (e.g. `71234`), once spaces and dashes are removed. */
const INTERNAL_EXTENSION = /^\d{5}$/;

/**
 * `telephone1` as a dialable number. Only a CERN internal extension, i.e. exactly five digits
 * after removing spaces, dots and dashes (`71234`, `7 1234`), gets `prefix` prepended
 * (`+412276` + `71234` = `+41227671234`). Anything else is returned as given (trimmed):
 * international numbers (`+41 22 76 71234`, `0041...`), national ones (`022 767 1234`) and
 * CERN mobile short codes (six digits, `16xxxx`, which are not under the `2276` prefix), since
 * prefixing those would produce a wrong number. Empty values give `undefined`.
 */
export function formatPhone(raw: unknown, prefix: string): string | undefined {
  const phone = text(raw);
  if (phone === undefined) return undefined;
  const digits = phone.replace(/[\s.-]/g, '');
  return prefix !== '' && INTERNAL_EXTENSION.test(digits) ? `${prefix}${digits}` : phone;
}

/**
 * `personId` as a number: the API returns it as a number or a numeric string. Only positive
 * safe integers count; anything else (null for guests, `0`, non-numeric text) gives `undefined`,
 * so consumers can rely on `typeof personId === 'number'`.
 */
export function toPersonId(raw: unknown): number | undefined {
  const value = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** A trimmed non-empty string, else `undefined`. */
function text(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * Maps one AuthZ identity record to a {@link CernIdentity}. Records without a usable `upn`
 * (which cannot be addressed by login) give `null` and are dropped by callers.
 */
export function toCernIdentity(row: unknown, phonePrefix: string): CernIdentity | null {
  if (typeof row !== 'object' || row === null) return null;
  const record = row as Record<string, unknown>;
  const login = text(record.upn);
  if (login === undefined) return null;
  const identity: CernIdentity = { login };
  const optional: [keyof Omit<CernIdentity, 'login' | 'personId'>, string | undefined][] = [
    ['firstName', text(record.firstName)],
    ['lastName', text(record.lastName)],
    ['displayName', text(record.displayName)],
    ['email', text(record.primaryAccountEmail)],
    ['affiliation', text(record.instituteName)],
    ['phone', formatPhone(record.telephone1, phonePrefix)],
  ];
  for (const [name, value] of optional) if (value !== undefined) identity[name] = value;
  const personId = toPersonId(record.personId);
  if (personId !== undefined) identity.personId = personId;
  return identity;
}

/** Maps records, drops those without `upn` and duplicates (same login, case-insensitive). */
export function toCernIdentities(rows: readonly unknown[], phonePrefix: string): CernIdentity[] {
  const seen = new Set<string>();
  const identities: CernIdentity[] = [];
  for (const row of rows) {
    const identity = toCernIdentity(row, phonePrefix);
    if (identity === null) continue;
    const key = identity.login.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    identities.push(identity);
  }
  return identities;
}

/** True for a value shaped like a {@link CernIdentity} (checks cache entries read back). */
export function isCernIdentity(value: unknown): value is CernIdentity {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { login?: unknown }).login === 'string' &&
    (value as { login: string }).login !== ''
  );
}
