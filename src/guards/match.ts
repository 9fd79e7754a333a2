import { configError } from '../errors.js';

import type { MatchMode, MatchOptions } from '../context.js';

export type { MatchMode, MatchOptions };

/** Validates a guard's list and mode once, at construction, so mistakes fail at start-up. */
export function normalizeRequirement(
  guard: string,
  values: string | readonly string[],
  options: MatchOptions = {},
): { values: string[]; match: MatchMode } {
  const list = (typeof values === 'string' ? [values] : [...values]).map((v) =>
    typeof v === 'string' ? v.trim() : v,
  );
  const problems: string[] = [];
  if (list.length === 0) problems.push('at least one value is required');
  if (list.some((v) => typeof v !== 'string' || v.length === 0))
    problems.push('values must be non-empty strings');
  // Callers in plain JavaScript can pass anything: validate the run-time value.
  const match = (options.match ?? 'any') as unknown;
  if (typeof match === 'number') {
    if (!Number.isInteger(match) || match < 1 || match > list.length) {
      problems.push(`match must be 'any', 'all' or an integer from 1 to ${list.length}, got ${match}`);
    }
  } else if (match !== 'any' && match !== 'all') {
    problems.push(`match must be 'any', 'all' or a number, got "${String(match)}"`);
  }
  if (problems.length > 0) {
    throw configError(`${guard}: ${problems.join('; ')}`, problems);
  }
  return { values: list, match: match as MatchMode };
}

/**
 * The one any/all/N decision of the library: whether enough of `required` are held for
 * `match` (`'any'`: one, `'all'`: every one, `n`: at least `n`). Stops as soon as it knows.
 */
export function meetsMatch<T>(
  required: readonly T[],
  isHeld: (value: T) => boolean,
  match: MatchMode = 'any',
): boolean {
  if (match === 'any') return required.some(isHeld);
  if (match === 'all') return required.every(isHeld);
  let missing = match;
  for (const value of required) {
    if (missing <= 0) break;
    if (isHeld(value)) missing--;
  }
  return missing <= 0;
}

/** True when `have` satisfies the requirement; comparison is case-insensitive. */
export function matches(
  have: readonly string[],
  required: readonly string[],
  match: MatchMode = 'any',
): boolean {
  const owned = new Set(have.map((value) => value.toLowerCase()));
  return matchesSet(owned, required, match);
}

/** Like {@link matches}, against a set of lower-case names (see `createGroupSets`). */
export function matchesSet(
  owned: ReadonlySet<string>,
  required: readonly string[],
  match: MatchMode = 'any',
): boolean {
  return meetsMatch(required, (value) => owned.has(value.toLowerCase()), match);
}
