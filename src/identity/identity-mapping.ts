import type { CernGroup, CernIdentity } from './types.js';

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

/**
 * `telephone1` as Flask-Multipass-CERN shows it (its `_fix_phone`): a value that does not start
 * with `+` gets `prefix` prepended as it is (`71234` with `+412276` gives `+41227671234`); a
 * value starting with `+` is returned unchanged. Values are trimmed first, nothing else is
 * rewritten (`0041...` and `022 767 1234` are prefixed too, as in Flask-Multipass-CERN: the
 * AuthZ API stores CERN numbers as internal extensions, others with `+`). An empty `prefix`
 * leaves every number unchanged; empty values give `undefined`.
 */
export function formatPhone(raw: unknown, prefix: string): string | undefined {
  const phone = text(raw);
  if (phone === undefined) return undefined;
  return phone.startsWith('+') ? phone : `${prefix}${phone}`;
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
 * The `extraFields` of `record` that it has as own properties, in a null-prototype object:
 * upstream keys such as `__proto__` or `constructor` can never reach or shadow a prototype.
 */
export function pickFields(record: object, extraFields: readonly string[]): Record<string, unknown> {
  const fields = Object.create(null) as Record<string, unknown>;
  for (const name of extraFields) {
    if (!Object.hasOwn(record, name)) continue;
    const value = (record as Record<string, unknown>)[name];
    if (value !== undefined) fields[name] = value;
  }
  return fields;
}

/**
 * Maps one AuthZ identity record to a {@link CernIdentity}. Records without a usable `upn`
 * (which cannot be addressed by login) give `null` and are dropped by callers. With
 * `extraFields` (the `identityFields` option), those fields are copied raw into `fields`.
 */
export function toCernIdentity(
  row: unknown,
  phonePrefix: string,
  extraFields: readonly string[] = [],
): CernIdentity | null {
  if (typeof row !== 'object' || row === null) return null;
  const record = row as Record<string, unknown>;
  const login = text(Object.hasOwn(record, 'upn') ? record.upn : undefined);
  if (login === undefined) return null;
  const identity: CernIdentity = { login };
  const id = text(Object.hasOwn(record, 'id') ? record.id : undefined);
  if (id !== undefined) identity.id = id;
  const optional: [keyof Omit<CernIdentity, 'login' | 'personId' | 'id' | 'fields'>, string | undefined][] = [
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
  if (extraFields.length > 0) identity.fields = pickFields(record, extraFields);
  return identity;
}

/** Maps records, drops those without `upn` and duplicates (same login, case-insensitive). */
export function toCernIdentities(
  rows: readonly unknown[],
  phonePrefix: string,
  extraFields: readonly string[] = [],
): CernIdentity[] {
  const seen = new Set<string>();
  const identities: CernIdentity[] = [];
  for (const row of rows) {
    const identity = toCernIdentity(row, phonePrefix, extraFields);
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
  if (typeof value !== 'object' || value === null) return false;
  const { login, fields } = value as { login?: unknown; fields?: unknown };
  return (
    typeof login === 'string' &&
    login !== '' &&
    (fields === undefined || (typeof fields === 'object' && fields !== null && !Array.isArray(fields)))
  );
}

/**
 * A copy for the caller (cached objects are never handed out). `fields` is rebuilt as a
 * null-prototype object from its own keys: a store that serialises (Redis) gives back a plain
 * object, on which a missing name such as `constructor` would read `Object.prototype`.
 */
export function copyIdentity(identity: CernIdentity): CernIdentity {
  const copy: CernIdentity = { ...identity };
  if (identity.fields !== undefined) copy.fields = pickFields(identity.fields, Object.keys(identity.fields));
  return copy;
}

/** The AuthZ group fields a {@link CernGroup} is made of. */
export const GROUP_API_FIELDS = ['groupIdentifier', 'displayName', 'description'] as const;

/** A `/Group/{id}` record as a {@link CernGroup}, or `null` when it has no `groupIdentifier`. */
export function toCernGroup(row: unknown): CernGroup | null {
  if (typeof row !== 'object' || row === null) return null;
  const record = row as Record<string, unknown>;
  const id = Object.hasOwn(record, 'groupIdentifier') ? record.groupIdentifier : undefined;
  if (typeof id !== 'string' || id.trim() === '') return null;
  const group: CernGroup = { id: id.trim() };
  for (const name of ['displayName', 'description'] as const) {
    const value = Object.hasOwn(record, name) ? record[name] : undefined;
    if (typeof value === 'string' && value.trim() !== '') group[name] = value.trim();
  }
  return group;
}

export function isCernGroup(value: unknown): value is CernGroup {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string';
}
