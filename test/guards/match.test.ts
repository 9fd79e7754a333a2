import { describe, expect, it } from 'vitest';
import { CernSsoError } from 'express-cern-sso';
import { matches, normalizeRequirement } from '../../src/guards/match.js';

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
