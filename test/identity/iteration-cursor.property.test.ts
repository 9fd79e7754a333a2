import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CernSsoError } from '../../src/errors.js';
import { parseCursor } from '../../src/identity/iteration-cursor.js';

const LIST = new URL('https://authorization-service-api.web.cern.ch/api/v1.0/Identity');
const FILTERS = ['modificationTime:gt:2025-01-01T00:00:00Z'];

/** Strings near the shape of a real cursor, and attacks on it. */
const cursorLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.webUrl({ withQueryParameters: true }),
  fc
    .tuple(
      fc.constantFrom('/', '//', '/\\', '\\', 'https://evil.example/', '/api/v1.0/', '/%2F', ''),
      fc.constantFrom(
        'api/v1.0/Identity',
        'Identity',
        '../Identity',
        'api/v1.0/Group',
        'evil.example/api/v1.0/Identity',
      ),
      fc.constantFrom('?', '#', '?token=', '?filter=modificationTime:gt:2025-01-01T00:00:00Z&token='),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
    )
    .map((parts) => parts.join('')),
);

describe('parseCursor (property)', () => {
  it('any string is rejected with ERR_BAD_REQUEST or becomes a URL of the listing on the API host', () => {
    fc.assert(
      fc.property(cursorLike, (cursor) => {
        let url: URL;
        try {
          url = parseCursor('iterateIdentities', cursor, LIST, FILTERS);
        } catch (error) {
          expect(error).toBeInstanceOf(CernSsoError);
          expect((error as CernSsoError).code).toBe('ERR_BAD_REQUEST');
          return;
        }
        expect(url.origin).toBe(LIST.origin);
        expect(url.pathname).toBe(LIST.pathname);
        expect(url.username + url.password + url.hash).toBe('');
        expect(url.searchParams.getAll('filter')).toEqual(FILTERS);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts a real next path, refuses other hosts, listings and filters', () => {
    const good = `/api/v1.0/Identity?filter=${encodeURIComponent(FILTERS[0] ?? '')}&field=upn&limit=1000&token=MTAwMC5hYmM`;
    expect(parseCursor('iterateIdentities', good, LIST, FILTERS).href).toBe(`${LIST.origin}${good}`);
    for (const bad of [
      `https://evil.example${good}`,
      `//evil.example${good}`,
      good.replace('/Identity', '/Group'),
      good.replace('&token=MTAwMC5hYmM', ''),
      good.replace(/filter=[^&]*&/, ''),
      '/api/v1.0/Identity/x/..?token=x',
    ]) {
      expect(() => parseCursor('iterateIdentities', bad, LIST, FILTERS)).toThrow(CernSsoError);
    }
    expect(() => parseCursor('iterateIdentities', 42, LIST, FILTERS)).toThrow(/must be the string/);
  });
});
