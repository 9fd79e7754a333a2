import { describe, expect, it } from 'vitest';
import { memoryCache } from 'express-cern-sso';

describe('memoryCache({ max })', () => {
  it('with max 2 evicts the least recently used entry', async () => {
    const cache = memoryCache({ max: 2 });
    await cache.set('a', 'A', 60_000);
    await cache.set('b', 'B', 60_000);
    expect(await cache.get('a')).toBe('A'); // a is now more recently used than b
    await cache.set('c', 'C', 60_000);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBe('A');
    expect(await cache.get('c')).toBe('C');
    // c was read last, a before it: the next entry evicts a.
    await cache.set('d', 'D', 60_000);
    expect(await cache.get('a')).toBeUndefined();
    expect([await cache.get('c'), await cache.get('d')]).toEqual(['C', 'D']);
  });

  it('replacing an entry does not evict another', async () => {
    const cache = memoryCache({ max: 2 });
    await cache.set('a', 1, 60_000);
    await cache.set('b', 2, 60_000);
    await cache.set('a', 3, 60_000);
    expect([await cache.get('a'), await cache.get('b')]).toEqual([3, 2]);
  });
});
