import { describe, expect, it } from 'vitest';
import { createCachedLoader } from '../../src/cache/cached-loader.js';
import { memoryCache } from '../../src/cache/memory.js';
import type { CacheStore } from '../../src/cache/types.js';
import { isStringArray } from '../../src/identity/group-names.js';
import { consoleLogger } from '../../src/logger.js';

describe('CachedLoader.peek: the synchronous fresh hit guards use', () => {
  it('answers a fresh, valid value of the memory store at once; nothing else', async () => {
    let time = 1_000_000;
    const loader = createCachedLoader({ store: memoryCache(), logger: consoleLogger, now: () => time });
    expect(loader.peek('k', isStringArray)).toBeUndefined();
    await loader.set('k', ['a', 'b'], 1000, 5000);
    expect(loader.peek('k', isStringArray)).toEqual({ value: ['a', 'b'] });
    await loader.set('bad', [1, 2], 1000, 5000);
    expect(loader.peek('bad', isStringArray)).toBeUndefined(); // fails its check: a miss
    time += 1001; // stale: the caller must go through get() (refresh, stale-if-error)
    expect(loader.peek('k', isStringArray)).toBeUndefined();
  });

  it('never answers for a store without a synchronous read (Redis) or while a load is in flight', async () => {
    const memory = memoryCache();
    const asyncOnly: CacheStore = {
      get: (key) => memory.get(key),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: (key) => memory.delete(key),
    };
    const remote = createCachedLoader({ store: asyncOnly, logger: consoleLogger });
    await remote.set('k', ['a'], 60_000, 0);
    expect(remote.peek('k', isStringArray)).toBeUndefined();

    const local = createCachedLoader({ store: memoryCache(), logger: consoleLogger });
    await local.set('k', ['old'], 60_000, 0);
    let release: (value: string[]) => void = () => undefined;
    const loading = local.get({
      key: 'other',
      load: () => new Promise<string[]>((resolve) => (release = resolve)),
      freshMs: 60_000,
      staleMs: 0,
      description: 'test',
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(local.peek('other', isStringArray)).toBeUndefined();
    release(['new']);
    await loading;
    expect(local.peek('other', isStringArray)).toEqual({ value: ['new'] });
  });
});
