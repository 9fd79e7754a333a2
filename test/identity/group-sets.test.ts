import { describe, expect, it } from 'vitest';
import { matchesSet } from '../../src/guards/match.js';
import { createGroupSets } from '../../src/auth/group-names.js';

describe('createGroupSets', () => {
  it('lower-cases, cleans and adds the CERN Users alias for members of cernUsersGroup', () => {
    const sets = createGroupSets('cern-users-demo');
    const set = sets(['IT-Dep', 'it-dep', 'Cern-Users-Demo', 'bogus|uuid', ' ', 42]);
    expect([...set].sort()).toEqual(['cern users', 'cern-users-demo', 'it-dep']);
    expect(createGroupSets(undefined)(['Cern-Users-Demo']).has('cern users')).toBe(false);
  });

  it('computes a list once: the same list object gives the same set', () => {
    const sets = createGroupSets(undefined);
    const groups = ['a', 'b'];
    expect(sets(groups)).toBe(sets(groups));
    expect(sets(['a', 'b'])).not.toBe(sets(groups));
  });
});

describe('matchesSet', () => {
  const owned = new Set(['it-dep', 'cern-staff', 'atlas-users']);
  it.each([
    [['IT-DEP'], 'any', true],
    [['nope', 'Atlas-Users'], 'any', true],
    [['nope'], 'any', false],
    [['it-dep', 'cern-staff'], 'all', true],
    [['it-dep', 'nope'], 'all', false],
    [['it-dep', 'nope', 'cern-staff'], 2, true],
    [['it-dep', 'nope', 'other'], 2, false],
  ] as const)('%j with match %j: %j', (required, match, expected) => {
    expect(matchesSet(owned, required, match)).toBe(expected);
  });
});
