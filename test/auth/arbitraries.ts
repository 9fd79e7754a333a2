/**
 * fast-check generators for what a client can put in a callback URL or a Cookie header:
 * prototype names, unicode, control characters, URL tricks, huge and repeated values.
 */
import fc from 'fast-check';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

export { PROTOTYPE_NAMES };

const TRICKS = [
  '',
  '/',
  '//',
  '\\',
  '/\\',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%252f',
  '%2e',
  '..',
  '.',
  '\t',
  '\n',
  '\r\n',
  '%09',
  '%0a',
  '%00',
  '\u0000',
  '\u2028',
  '\u00a0',
  'évil',
  '𝒳',
  ' ',
  ':',
  '@',
  '?',
  '#',
  '&',
  '=',
  ';',
  '"',
  ',',
  '%',
  '%zz',
  'evil.example',
  'https:',
  'javascript:',
  'state',
  'code',
];

const controlChar = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));

/** Short strings mixing tricks, control characters and arbitrary unicode. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES, ...TRICKS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(
      fc.oneof(fc.constantFrom(...TRICKS, ...PROTOTYPE_NAMES), controlChar, fc.string({ maxLength: 4 })),
      {
        maxLength: 12,
      },
    )
    .map((parts) => parts.join('')),
);

/** Sometimes huge (kilobytes). */
export const nastyValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.string({ minLength: 2000, maxLength: 6000 }) },
);

/** Query parameter names: response parameters, prototype names and anything else. */
export const paramName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('state', 'code', 'iss', 'error', 'error_description', 'session_state', ...PROTOTYPE_NAMES),
  nastyString,
);

/** A list of query parameters (names may repeat). */
export const queryPairs: fc.Arbitrary<[string, string][]> = fc.array(fc.tuple(paramName, nastyValue), {
  maxLength: 8,
});

/** Printable ASCII only (what an HTTP client can put in a header). */
export const headerSafe = (text: string): string => text.replace(/[^\x20-\x7e]/g, '');
