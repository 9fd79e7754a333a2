import { describe, expect, it } from 'vitest';
import { CernSsoError } from 'express-cern-sso';
import { createRefusalCache, REFUSAL_TTL_MS } from '../../src/bearer/refusal-cache.js';

const refusal = new CernSsoError('ERR_INVALID_TOKEN', 'the token is not active', { status: 401 });

describe('introspection refusal cache', () => {
  it('remembers a refusal for 30 s, then forgets it', () => {
    let now = 1_000_000;
    const cache = createRefusalCache(10, REFUSAL_TTL_MS, () => now);
    expect(REFUSAL_TTL_MS).toBe(30_000);
    cache.set('k', refusal);
    now += REFUSAL_TTL_MS - 1;
    expect(cache.get('k')).toBe(refusal);
    now += 1;
    expect(cache.get('k')).toBeUndefined();
  });

  it('is bounded (least recently used go first); max 0 caches nothing', () => {
    const cache = createRefusalCache(2);
    cache.set('a', refusal);
    cache.set('b', refusal);
    cache.get('a');
    cache.set('c', refusal);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(refusal);
    expect(cache.get('c')).toBe(refusal);
    const none = createRefusalCache(0);
    none.set('a', refusal);
    expect(none.get('a')).toBeUndefined();
  });
});
