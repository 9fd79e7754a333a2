import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CookieJar } from '../../src/testing/cookie-jar.js';

function setting(...lines: string[]): Response {
  const headers = new Headers();
  for (const line of lines) headers.append('set-cookie', line);
  return new Response(null, { headers });
}

const at = (path: string): URL => new URL(`http://localhost:3000${path}`);

describe('the cookie jar of emulator.login()', () => {
  it('sends a cookie to its path and below, not to a sibling path', () => {
    const jar = new CookieJar();
    jar.store(at('/app/login'), setting('a=1; Path=/app; HttpOnly'));
    expect(jar.header(at('/app'))).toBe('a=1');
    expect(jar.header(at('/app/x/y'))).toBe('a=1');
    expect(jar.header(at('/application'))).toBe('');
    expect(jar.header(at('/'))).toBe('');
  });

  it('keeps cookies per host, and the longest path first', () => {
    const jar = new CookieJar();
    jar.store(at('/'), setting('s=1; Path=/', 'l=2; Path=/oidc/callback'));
    expect(jar.header(at('/oidc/callback'))).toBe('l=2; s=1');
    expect(jar.header(new URL('http://127.0.0.1:3000/oidc/callback'))).toBe('');
  });

  it('drops cookies cleared with Max-Age=0 or a past Expires, and those that expire', () => {
    let now = 1_000_000;
    const jar = new CookieJar(() => now);
    jar.store(at('/'), setting('a=1; Path=/', 'b=2; Path=/', 'c=3; Path=/; Max-Age=10'));
    jar.store(at('/'), setting('a=; Path=/; Max-Age=0', 'b=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT'));
    expect(jar.header(at('/'))).toBe('c=3');
    now += 11_000;
    expect(jar.header(at('/'))).toBe('');
  });

  it('without Path, the default path is the directory of the request', () => {
    const jar = new CookieJar();
    jar.store(at('/app/oidc/callback'), setting('a=1'));
    expect(jar.header(at('/app/oidc/x'))).toBe('a=1');
    expect(jar.header(at('/app/other'))).toBe('');
  });

  it('property: a cookie of path p is sent to p/anything and never to p followed by another character', () => {
    const segment = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), segment, (segments, tail) => {
        const path = `/${segments.join('/')}`;
        const jar = new CookieJar();
        jar.store(at('/'), setting(`k=v; Path=${path}`));
        expect(jar.header(at(`${path}/${tail}`))).toBe('k=v');
        expect(jar.header(at(`${path}${tail}`))).toBe('');
      }),
      { numRuns: 200 },
    );
  });
});
