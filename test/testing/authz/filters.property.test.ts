import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/testing/authz/errors.js';
import { compileFilters, FILTER_OPS } from '../../../src/testing/authz/filters.js';
import { IDENTITY_FIELDS, toIdentity } from '../../../src/testing/authz/identity-fields.js';
import { seedGroups, seedUsers } from '../../../src/testing/index.js';
import { startApi, type TestApi } from './helpers.js';
import { PROTOTYPE_NAMES } from '../../helpers/prototype-names.js';

const FIELDS = Object.keys(IDENTITY_FIELDS);
const identities = seedUsers.slice(0, 50).map(toIdentity);

const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({
    unit: fc.constantFrom(
      ':',
      '&',
      '=',
      '%',
      '/',
      ' ',
      '-',
      'T',
      'Z',
      '0',
      '9',
      '.',
      'é',
      '\u0000',
      '\ud800',
      'a',
    ),
    maxLength: 12,
  }),
  fc.constantFrom(...PROTOTYPE_NAMES, '2024-01-01T00:00:00Z', '12', '', 'true'),
);
/** Filters: well-formed ones on real and prototype-named fields and ops, and arbitrary text. */
const filter = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...FIELDS, ...PROTOTYPE_NAMES, ''),
      fc.constantFrom(...FILTER_OPS, ...PROTOTYPE_NAMES, ''),
      value,
    )
    .map(([field, op, text]) => `${field}:${op}:${text}`),
  value,
);

describe('emulator filter parser (compileFilters), property-based', () => {
  it('either a predicate that never throws on records, or a 400 ApiError naming the filter', () => {
    fc.assert(
      fc.property(fc.array(filter, { maxLength: 3 }), (filters) => {
        let predicate;
        try {
          predicate = compileFilters(filters, IDENTITY_FIELDS);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          expect(error).toMatchObject({ status: 400 });
          return;
        }
        for (const identity of identities) expect(typeof predicate(identity)).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('accepts exactly field:op:value with a known field and operator; the value is everything after the second colon', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FIELDS),
        fc.constantFrom('eq', 'contains', 'startswith'),
        value,
        (field, op, text) => {
          const predicate = compileFilters([`${field}:${op}:${text}`], IDENTITY_FIELDS);
          for (const identity of identities) {
            const actual: unknown = (identity as unknown as Record<string, unknown>)[field];
            if (actual === undefined) {
              expect(predicate(identity)).toBe(false);
              continue;
            }
            const haystack = (typeof actual === 'string' ? actual : JSON.stringify(actual)).toLowerCase();
            const needle = text.toLowerCase();
            const expected =
              op === 'eq'
                ? haystack === needle
                : op === 'contains'
                  ? haystack.includes(needle)
                  : haystack.startsWith(needle);
            expect(predicate(identity)).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('unknown fields and operators, prototype names included, are a 400', () => {
    for (const name of PROTOTYPE_NAMES) {
      expect(() => compileFilters([`${name}:eq:x`], IDENTITY_FIELDS)).toThrow(/Unknown field/);
      expect(() => compileFilters([`upn:${name}:x`], IDENTITY_FIELDS)).toThrow(/Unknown operator/);
    }
  });
});

describe('emulated AuthZ API over HTTP: any filter is a 200 or a JSON 400, never a 500', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ users: () => seedUsers.slice(0, 50), groups: () => seedGroups });
  });
  afterAll(async () => {
    await api.close();
  });

  it('random filter lists on /Identity and /Group', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(filter, { maxLength: 2 }),
        fc.constantFrom('/Identity', '/Group'),
        async (filters, path) => {
          const query = new URLSearchParams(filters.map((text): [string, string] => ['filter', text]));
          const res = await api.get(`/api/v1.0${path}?${query.toString()}`);
          expect([200, 400]).toContain(res.status);
          if (res.status === 400) expect(typeof res.body.message).toBe('string');
          else expect(Array.isArray(res.body.data)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});
