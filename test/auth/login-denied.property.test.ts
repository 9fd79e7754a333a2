/**
 * `loginDenied(message)`: whatever text an app passes (it may quote a user's name, a claim, a
 * database error), the message shown is one bounded line, and the built-in page shows it escaped.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loginDenied } from 'express-cern-sso';
import { builtInErrorPage } from '../../src/error-pages.js';
import { hasUnsafeText } from '../../src/untrusted-text.js';

const NASTY = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'",
  '&amp;',
  '\r\n',
  '\u202e',
  '\u2028',
  '\u0000',
  '\ud800',
  ' ',
  'x'.repeat(300),
];

/** App messages: any unicode, HTML and control characters mixed in, some very long. */
const appMessage = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc
    .array(fc.oneof(fc.constantFrom(...NASTY), fc.string()), { maxLength: 12 })
    .map((parts) => parts.join('')),
);

const WORDS = [
  'Guest',
  'accounts',
  'cannot',
  'use',
  'this',
  'application',
  'please',
  'contact',
  'IT',
  'desk.',
];

describe('loginDenied(message)', () => {
  it('is a 403 ERR_LOGIN_DENIED whose message is one non-empty line of at most 200 characters', () => {
    fc.assert(
      fc.property(appMessage, (message) => {
        const error = loginDenied(message);
        expect(error.status).toBe(403);
        expect(error.code).toBe('ERR_LOGIN_DENIED');
        expect(error.oauthError).toBe('access_denied');
        expect(error.expose).toBe(true);
        expect(error.message.length).toBeGreaterThan(0);
        expect(error.message.length).toBeLessThanOrEqual(200);
        expect(hasUnsafeText(error.message)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('the built-in page shows it with no markup of its own, in English and French', () => {
    fc.assert(
      fc.property(appMessage, fc.constantFrom('en' as const, 'fr' as const), (message, lang) => {
        const page = builtInErrorPage(loginDenied(message), lang);
        const detail = /<p class="detail"[^>]*>([\s\S]*?)<\/p>/.exec(page)?.[1];
        if (detail !== undefined) expect(detail).not.toMatch(/[<>"']/);
        expect(page).not.toContain('<script');
        expect(page).not.toContain('<img');
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a plain sentence as written', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 20 }), (words) => {
        const sentence = words.join(' ');
        expect(loginDenied(sentence).message).toBe(sentence);
      }),
      { numRuns: 100 },
    );
  });

  it('falls back to a sentence of its own for an empty or blank message', () => {
    for (const message of ['', '   ', '\n\t', undefined as unknown as string]) {
      expect(loginDenied(message).message).toBe('Your account may not sign in to this application.');
    }
  });
});
