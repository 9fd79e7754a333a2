import { CernSsoError } from '../errors.js';

/** Longest login, group name or search value accepted; far above any real one. */
const MAX_NAME_LENGTH = 256;

/** A 400 `ERR_BAD_REQUEST` naming the method and the problem. */
export function badInput(method: string, message: string): CernSsoError {
  return new CernSsoError('ERR_BAD_REQUEST', `${method}: ${message}`, { status: 400 });
}

// Control characters never occur in logins or group names and would be a header/log hazard.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * A login or group name that is safe as one URL path segment: a non-empty string, trimmed,
 * without control characters, and not `.`/`..` (which URL normalisation would turn into a
 * different path even when percent-encoded). Returns the trimmed value.
 */
export function requireName(method: string, what: string, value: unknown): string {
  if (typeof value !== 'string') throw badInput(method, `${what} must be a string`);
  const name = value.trim();
  if (name === '') throw badInput(method, `${what} must not be empty`);
  if (name.length > MAX_NAME_LENGTH) throw badInput(method, `${what} is too long`);
  if (CONTROL_CHARACTERS.test(name)) throw badInput(method, `${what} contains control characters`);
  if (/^\.+$/.test(name)) throw badInput(method, `${what} "${name}" is not a valid name`);
  return name;
}

/** A non-empty search value (no control characters). Returns it trimmed. */
export function requireSearchValue(method: string, what: string, value: unknown): string {
  if (typeof value !== 'string') throw badInput(method, `${what} must be a string`);
  const trimmed = value.trim();
  if (trimmed === '') throw badInput(method, `${what} must not be empty`);
  if (trimmed.length > MAX_NAME_LENGTH) throw badInput(method, `${what} is too long`);
  if (CONTROL_CHARACTERS.test(trimmed)) throw badInput(method, `${what} contains control characters`);
  return trimmed;
}

/** AuthZ filters (`field:op:value`), as given to `iterateIdentities()` / `iterateGroups()`. */
export function requireFilters(method: string, filters: unknown): string[] {
  if (filters === undefined) return [];
  if (!Array.isArray(filters)) throw badInput(method, 'filters must be an array of "field:op:value" strings');
  return filters.map((filter: unknown) => {
    if (typeof filter !== 'string' || !/^[^:\s]+:[a-z]+:/.test(filter)) {
      throw badInput(method, `invalid filter ${JSON.stringify(filter)}: expected "field:op:value"`);
    }
    return filter;
  });
}

/** A positive integer `limit`, or `undefined`. */
export function optionalLimit(method: string, limit: unknown): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw badInput(method, 'limit must be a positive integer');
  }
  return limit;
}
