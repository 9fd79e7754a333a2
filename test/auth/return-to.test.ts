import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../src/auth/return-to.js';

describe('safeReturnTo', () => {
  it.each([
    ['/', '/'],
    ['/profile', '/profile'],
    ['/a/b?x=1&y=%2F#frag', '/a/b?x=1&y=%2F#frag'],
    ['/search?q=http://example.org', '/search?q=http://example.org'],
    ['/a/../b', '/b'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    'https://evil.example/',
    'http:/evil.example',
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    '/%2Fevil.example',
    '%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%252F%252Fevil.example',
    'javascript:alert(1)',
    'data:text/html,hi',
    '/\r\nSet-Cookie:x=1',
    '/%0d%0aLocation:%20https://evil.example',
    '/\tevil',
    ' /profile',
    'profile',
    '',
    '/%zz',
    '/..//evil.example/steal',
    '/%2e%2e//evil.example',
    '/%2E%2E//evil.example',
    '/.//evil.example',
    '/a/..//evil.example',
    '/a/%2e%2e//evil.example',
    '/./%2e//evil.example',
  ])('falls back to / for %j', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });

  it('ignores non-strings and absurdly long values', () => {
    expect(safeReturnTo(['/a', '/b'])).toBe('/');
    expect(safeReturnTo(undefined)).toBe('/');
    expect(safeReturnTo(`/${'a'.repeat(5000)}`)).toBe('/');
  });
});
