/**
 * The authorization parameters a client can put in `/login?...` (Express's parsed query: strings,
 * arrays, nested objects, prototype names) and the `authorizationParams` option: only the
 * allow-list with valid values ever leaves.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUTHORIZATION_PARAM_NAMES,
  MAX_ACR_VALUES_LENGTH,
  MAX_MAX_AGE,
  PROMPTS,
  authorizationParamProblem,
  defaultAuthorizationQuery,
  queryAuthorizationParams,
} from '../../src/authorization-params.js';
import { PROTOTYPE_NAMES, nastyString, nastyValue } from './arbitraries.js';

const ALLOWED = new Set<string>(AUTHORIZATION_PARAM_NAMES);
const RESERVED = [
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'redirect_uri',
  'response_type',
];

/** Whether `value` is valid for `name`, written out independently of the implementation. */
function expectedValid(name: string, value: string): boolean {
  switch (name) {
    case 'prompt':
      return (PROMPTS as readonly string[]).includes(value);
    case 'login_hint':
      return (
        value.length >= 1 &&
        value.length <= 256 &&
        !Array.from(value, (c) => c.charCodeAt(0)).some((code) => code < 32 || code === 127)
      );
    case 'kc_idp_hint':
      return /^[A-Za-z0-9_.-]{1,64}$/.test(value);
    case 'ui_locales':
      return value.length <= 64 && /^[A-Za-z0-9_-]+( [A-Za-z0-9_-]+)*$/.test(value);
    case 'max_age':
      return /^\d+$/.test(value) && String(Number(value)) === value && Number(value) <= MAX_MAX_AGE;
    case 'acr_values':
      return value.length <= MAX_ACR_VALUES_LENGTH && /^[A-Za-z0-9._:/-]+( [A-Za-z0-9._:/-]+)*$/.test(value);
    default:
      return false;
  }
}

/** Values that are often valid for some parameter, and often nearly so. */
const candidateValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ...PROMPTS,
    'none login',
    'NONE',
    '0',
    '00',
    '-1',
    '1e3',
    '3600',
    '999999999',
    '1000000000',
  ),
  fc.constantFrom('eduGAIN', 'fr en', 'fr  en', ' fr', 'urn:cern:acr:2fa', 'a b', 'a\tb', 'jdoe@cern.ch'),
  fc.stringMatching(/^[A-Za-z0-9._:/ -]{0,140}$/),
  fc.integer({ min: 0, max: 2_000_000_000 }).map(String),
  nastyValue,
);

const queryValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: candidateValue },
  { weight: 1, arbitrary: fc.array(candidateValue, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, candidateValue, { maxKeys: 2 }) },
);

const queryName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...AUTHORIZATION_PARAM_NAMES, ...RESERVED, ...PROTOTYPE_NAMES, 'scope', 'client_id'),
  nastyString,
);

/** A parsed query as Express gives it (`__proto__` as an own key, as qs builds it). */
const query: fc.Arbitrary<Record<string, unknown>> = fc
  .array(fc.tuple(queryName, queryValue), { maxLength: 10 })
  .map((pairs) => {
    const result: Record<string, unknown> = {};
    for (const [name, value] of pairs)
      Object.defineProperty(result, name, { value, enumerable: true, configurable: true, writable: true });
    return result;
  });

describe('authorization parameters from the /login query', () => {
  it('only allow-listed names with single valid string values leave, unchanged', () => {
    fc.assert(
      fc.property(query, (input) => {
        const result = queryAuthorizationParams(input);
        for (const [name, value] of Object.entries(result)) {
          expect(ALLOWED.has(name)).toBe(true);
          expect(value).toBe(input[name]);
          expect(expectedValid(name, value)).toBe(true);
        }
        // And every valid allow-listed value does leave.
        for (const name of AUTHORIZATION_PARAM_NAMES) {
          const value = Object.hasOwn(input, name) ? input[name] : undefined;
          if (typeof value === 'string' && expectedValid(name, value)) expect(result[name]).toBe(value);
        }
        expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      }),
      { numRuns: 300 },
    );
  });

  it('never takes a reserved or inherited parameter', () => {
    const hostile = Object.create({ prompt: 'none' }) as Record<string, unknown>;
    Object.assign(hostile, { state: 'x', redirect_uri: 'https://evil.example/cb', response_type: 'token' });
    Object.defineProperty(hostile, '__proto__', { value: { prompt: 'login' }, enumerable: true });
    expect(queryAuthorizationParams(hostile)).toEqual({});
    expect(queryAuthorizationParams(null)).toEqual({});
    expect(queryAuthorizationParams('prompt=none')).toEqual({});
  });
});

describe('authorizationParams option values', () => {
  it('a problem exactly for reserved, unknown or invalid entries', () => {
    fc.assert(
      fc.property(
        queryName,
        fc.oneof(candidateValue, fc.integer({ min: -5, max: 2_000_000_000 })),
        (name, value) => {
          const problem = authorizationParamProblem(name, value);
          const ok =
            name === 'max_age'
              ? typeof value === 'number' && value >= 0 && value <= MAX_MAX_AGE
              : ALLOWED.has(name) && typeof value === 'string' && expectedValid(name, value);
          expect(problem === undefined).toBe(ok);
          if (problem !== undefined) expect(problem.length).toBeGreaterThan(10);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('defaults become URL values, max_age as text, undefined left out', () => {
    expect(defaultAuthorizationQuery({ max_age: 0, kc_idp_hint: 'eduGAIN', prompt: undefined })).toEqual({
      max_age: '0',
      kc_idp_hint: 'eduGAIN',
    });
    expect(defaultAuthorizationQuery(undefined)).toEqual({});
  });
});
