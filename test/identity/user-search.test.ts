import { describe, expect, it } from 'vitest';
import { mergeOutcomes, planUserSearch } from '../../src/identity/user-search.js';

describe('planUserSearch', () => {
  it('maps criteria to API fields, contains by default, eq when exact, always type:eq:Person + extra filters', () => {
    expect(planUserSearch({ login: 'jdo', email: 'cern.ch' }, false, ['source:eq:cern'])).toEqual([
      ['upn:contains:jdo', 'primaryAccountEmail:contains:cern.ch', 'type:eq:Person', 'source:eq:cern'],
    ]);
    expect(planUserSearch({ affiliation: 'CERN', displayName: 'John Doe' }, true, [])).toEqual([
      ['instituteName:eq:CERN', 'displayName:eq:John Doe', 'type:eq:Person'],
    ]);
  });

  it('runs several values of a criterion as separate queries (the API has no OR)', () => {
    expect(planUserSearch({ lastName: ['Doe', 'Martin', 'doe'], firstName: ['J', 'M'] }, false, [])).toEqual([
      ['lastName:contains:Doe', 'firstName:contains:J', 'type:eq:Person'],
      ['lastName:contains:Doe', 'firstName:contains:M', 'type:eq:Person'],
      ['lastName:contains:Martin', 'firstName:contains:J', 'type:eq:Person'],
      ['lastName:contains:Martin', 'firstName:contains:M', 'type:eq:Person'],
    ]);
  });

  it('rejects bad criteria with clear 400 errors', () => {
    expect(() => planUserSearch({}, false, [])).toThrow(/at least one criterion/);
    expect(() => planUserSearch({ nickname: 'x' }, false, [])).toThrow(/unknown criterion "nickname"/);
    expect(() => planUserSearch({ login: '  ' }, false, [])).toThrow(/criteria.login must not be empty/);
    expect(() => planUserSearch({ login: [] }, false, [])).toThrow(/at least one value/);
    expect(() => planUserSearch(null, false, [])).toThrow(/criteria must be an object/);
    const many = Array.from({ length: 6 }, (_, i) => `v${i}`);
    expect(() => planUserSearch({ login: many, email: many }, false, [])).toThrow(/too many/);
    try {
      planUserSearch({}, false, []);
    } catch (error) {
      expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
    }
  });
});

describe('mergeOutcomes', () => {
  const u = (login: string) => ({ login });
  it('de-duplicates by login, keeps order, caps at limit, exact total when complete', () => {
    expect(
      mergeOutcomes(
        [
          { users: [u('a'), u('b')], total: 2, complete: true },
          { users: [u('B'), u('c')], total: 2, complete: true },
        ],
        undefined,
      ),
    ).toEqual({ users: [u('a'), u('b'), u('c')], total: 3 });
    expect(mergeOutcomes([{ users: [u('a'), u('b'), u('c')], total: 3, complete: true }], 2)).toEqual({
      users: [u('a'), u('b')],
      total: 3,
    });
  });

  it('uses the API totals as a lower bound when a query was cut short', () => {
    expect(
      mergeOutcomes(
        [
          { users: [u('a'), u('b')], total: 50, complete: false },
          { users: [u('c')], total: 1, complete: true },
        ],
        2,
      ),
    ).toEqual({ users: [u('a'), u('b')], total: 50 });
  });
});
