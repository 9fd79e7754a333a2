import type { CernSsoError } from '../errors.js';
import { badRequest } from '../errors.js';
import { cutText, hasUnsafeText } from '../untrusted-text.js';

/** Longest login, group name or search value accepted; far above any real one. */
const MAX_NAME_LENGTH = 256;

/** A 400 `ERR_BAD_REQUEST` naming the method and the problem. */
export function badInput(method: string, message: string): CernSsoError {
  return badRequest(method, message);
}

/** Longest filter accepted by `iterateIdentities()` / `iterateGroups()`. */
const MAX_FILTER_LENGTH = 1024;

/**
 * Control characters (C0, C1, line separators, bidi overrides) never occur in logins, group
 * names or search text and are a header/log hazard; a lone surrogate cannot be sent at all
 * (`encodeURIComponent` throws, `URLSearchParams` would silently send U+FFFD instead).
 */
function rejectUnsafe(method: string, what: string, value: string): void {
  if (hasUnsafeText(value)) {
    throw badInput(method, `${what} contains control characters or invalid Unicode`);
  }
}

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
  rejectUnsafe(method, what, name);
  if (/^\.+$/.test(name)) throw badInput(method, `${what} "${name}" is not a valid name`);
  return name;
}

/** A non-empty search value (no control characters). Returns it trimmed. */
export function requireSearchValue(method: string, what: string, value: unknown): string {
  if (typeof value !== 'string') throw badInput(method, `${what} must be a string`);
  const trimmed = value.trim();
  if (trimmed === '') throw badInput(method, `${what} must not be empty`);
  if (trimmed.length > MAX_NAME_LENGTH) throw badInput(method, `${what} is too long`);
  rejectUnsafe(method, what, trimmed);
  return trimmed;
}

/** AuthZ filters (`field:op:value`), as given to `iterateIdentities()` / `iterateGroups()`. */
export function requireFilters(method: string, filters: unknown): string[] {
  if (filters === undefined) return [];
  if (!Array.isArray(filters)) throw badInput(method, 'filters must be an array of "field:op:value" strings');
  return filters.map((filter: unknown) => {
    if (typeof filter !== 'string' || filter.length > MAX_FILTER_LENGTH || !/^[^:\s]+:[a-z]+:/.test(filter)) {
      const shown = typeof filter === 'string' ? JSON.stringify(cutText(filter, 64)) : typeof filter;
      throw badInput(
        method,
        `invalid filter ${shown}: expected "field:op:value" (at most ${MAX_FILTER_LENGTH} characters)`,
      );
    }
    rejectUnsafe(method, 'filter', filter);
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
