import { describe, expect, it } from 'vitest';
import { cacheKey, CACHE_NAMESPACE, hashedCacheKey, keyPart } from '../../src/cache/keys.js';

describe('cache keys', () => {
  it('are namespaced and versioned', () => {
    expect(cacheKey('groups', 'jdoe')).toBe('cern-sso:v1:groups:jdoe');
    expect(CACHE_NAMESPACE).toBe('cern-sso:v1');
  });

  it('encode any character of a login, so parts cannot collide with the separator', () => {
    expect(cacheKey('groups', 'edugain.example.org/srossi')).toBe(
      'cern-sso:v1:groups:edugain.example.org%2Fsrossi',
    );
    expect(cacheKey('groups', 'a:b')).not.toBe(cacheKey('groups', 'a', 'b'));
    expect(keyPart('émile zoé\n')).toBe('%C3%A9mile%20zo%C3%A9%0A');
  });

  it('hash long parts', () => {
    const part = keyPart('x'.repeat(500));
    expect(part).toMatch(/^h:[A-Za-z0-9_-]{43}$/);
    expect(keyPart('y'.repeat(500))).not.toBe(part);
  });

  it('hash structured input canonically and never contain it', () => {
    const a = hashedCacheKey('token-exchange', { subject: 'secret-token', audience: 'x' });
    const b = hashedCacheKey('token-exchange', { audience: 'x', subject: 'secret-token' });
    expect(a).toBe(b);
    expect(a).not.toContain('secret-token');
    expect(a).toMatch(/^cern-sso:v1:token-exchange:[A-Za-z0-9_-]{43}$/);
    expect(hashedCacheKey('token-exchange', { subject: 'other', audience: 'x' })).not.toBe(a);
  });
});
