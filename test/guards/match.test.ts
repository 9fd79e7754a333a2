import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CernSsoError, type MatchMode } from 'express-cern-sso';
import { createGroupSets } from '../../src/auth/group-names.js';
import { claimMatches } from '../../src/guards/require-claim.js';
import { entitlementsMatch, parseEntitlement } from '../../src/guards/require-entitlement.js';
import { matches, matchesSet, meetsMatch, normalizeRequirement } from '../../src/guards/match.js';

/** The definition: count the held ones, compare the count. */
function naive<T>(required: readonly T[], isHeld: (value: T) => boolean, match: MatchMode): boolean {
  const hits = required.filter(isHeld).length;
  if (match === 'any') return hits >= 1;
  if (match === 'all') return hits === required.length;
  return hits >= match;
}

const names = fc.constantFrom('a', 'A', 'b', 'B', 'it-dep', 'IT-Dep', 'cern-staff', 'x');
const modes: fc.Arbitrary<MatchMode> = fc.oneof(
  fc.constantFrom<MatchMode>('any', 'all'),
  fc.integer({ min: -1, max: 8 }),
);

describe('group/role matching', () => {
  const have = ['IT-Dep', 'atlas-physicists', 'cern-staff'];

  it('any: one of the listed', () => {
    expect(matches(have, ['nope', 'it-dep'])).toBe(true);
    expect(matches(have, ['nope'])).toBe(false);
  });

  it('all: every listed one', () => {
    expect(matches(have, ['it-dep', 'CERN-STAFF'], 'all')).toBe(true);
    expect(matches(have, ['it-dep', 'nope'], 'all')).toBe(false);
  });

  it('n: at least n of the listed', () => {
    expect(matches(have, ['it-dep', 'nope', 'cern-staff'], 2)).toBe(true);
    expect(matches(have, ['it-dep', 'nope', 'other'], 2)).toBe(false);
  });

  it('rejects impossible requirements when the guard is built', () => {
    expect(() => normalizeRequirement('requireGroup()', ['a', 'b'], { match: 3 })).toThrow(CernSsoError);
    expect(() => normalizeRequirement('requireGroup()', [], {})).toThrow(/at least one value/);
    expect(() => normalizeRequirement('requireGroup()', ['a'], { match: 'most' as never })).toThrow(/match/);
    expect(normalizeRequirement('requireGroup()', 'a')).toEqual({ values: ['a'], match: 'any' });
  });
});

describe('meetsMatch: the one any/all/N decision', () => {
  it('agrees with counting the held ones (any list, any predicate, any mode)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 8 }),
        fc.func<[number], boolean>(fc.boolean()),
        modes,
        (required, held, match) => {
          const isHeld = (value: number): boolean => held(value); // one argument, as the library calls it
          expect(meetsMatch(required, isHeld, match)).toBe(naive(required, isHeld, match));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches, matchesSet and claimMatches agree with the definition (case rules included)', () => {
    fc.assert(
      fc.property(
        fc.array(names, { maxLength: 6 }),
        fc.array(names, { minLength: 1, maxLength: 6 }),
        modes,
        (have, required, match) => {
          const lower = new Set(have.map((name) => name.toLowerCase()));
          const caseless = naive(required, (value) => lower.has(value.toLowerCase()), match);
          expect(matches(have, required, match)).toBe(caseless);
          expect(matchesSet(createGroupSets(undefined)(have), required, match)).toBe(caseless);
          expect(claimMatches(have, required, match)).toBe(
            naive(required, (value) => have.includes(value), match),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('entitlementsMatch agrees with the definition', () => {
    const entitlement = fc
      .tuple(fc.constantFrom('it-dep', 'atlas', 'cms'), fc.constantFrom('', ':role=member', ':role=admin'))
      .map(([group, role]) => parseEntitlement(`urn:geant:cern.ch:group:${group}${role}#cern.ch`)!);
    fc.assert(
      fc.property(
        fc.array(entitlement, { maxLength: 5 }),
        fc.array(entitlement, { minLength: 1, maxLength: 5 }),
        modes,
        (held, required, match) => {
          const isHeld = (need: (typeof required)[number]): boolean =>
            held.some(
              (have) =>
                have.path.join(':') === need.path.join(':') &&
                (need.role === undefined || have.role === need.role),
            );
          expect(entitlementsMatch(held, required, match)).toBe(naive(required, isHeld, match));
        },
      ),
      { numRuns: 200 },
    );
  });
});
