import { describe, expect, it } from 'vitest';
import { memoryCache, type CacheStore } from 'express-cern-sso';
import { createLogoutMarkers, LogoutNotRecordedError } from '../../src/auth/logout-markers.js';
import { silentLogger } from '../../src/logger.js';

/** A store that accepts every write and keeps nothing (like redisCache() during an outage). */
const forgetful: CacheStore = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  delete: () => Promise.resolve(),
};

describe('logout markers: mark() verifies its writes', () => {
  it('resolves when the store kept the markers, and the session then counts as logged out', async () => {
    const markers = createLogoutMarkers(memoryCache(), silentLogger);
    await markers.mark({ sid: 'sid-1' });
    const auth = { sub: 'jdoe', sid: 'sid-1', loggedInAt: Date.now() - 1000 };
    expect(await markers.isLoggedOut(auth as never)).toBe(true);
  });

  it('rejects with LogoutNotRecordedError when a store swallows the write', async () => {
    const markers = createLogoutMarkers(forgetful, silentLogger);
    await expect(markers.mark({ sid: 'sid-1' })).rejects.toBeInstanceOf(LogoutNotRecordedError);
    await expect(markers.mark({ sub: 'jdoe' })).rejects.toBeInstanceOf(LogoutNotRecordedError);
  });

  it('rejects when the store holds an older marker than the one written (the write was lost)', async () => {
    const old: CacheStore = { ...forgetful, get: () => Promise.resolve(Date.now() - 60_000) };
    await expect(createLogoutMarkers(old, silentLogger).mark({ sub: 'jdoe' })).rejects.toThrow(
      /could not be written/,
    );
  });
});
