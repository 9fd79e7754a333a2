import type { Request } from 'express';
import session from 'express-session';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  LOGOUT_RECHECK_MS,
  LOGOUT_MARKER_TTL_MS,
  LogoutNotRecordedError,
  createLogoutMarkers,
} from '../../src/auth/logout-markers.js';
import type { SessionAuth } from '../../src/auth/session-data.js';
import { StoreTimeoutError } from '../../src/auth/store-entries.js';

/** What the markers need of a request: express-session's `sessionStore` (and a session). */
const requestOn = (store: session.Store): Request =>
  ({ sessionStore: store, session: {} }) as unknown as Request;

const auth = (fields: Partial<SessionAuth>): SessionAuth =>
  ({ sub: 'jdoe', loggedInAt: Date.now() - 1000, ...fields }) as SessionAuth;

/** A store that accepts every write and keeps nothing (a store that swallows write errors). */
class ForgetfulStore extends session.Store {
  override get(_id: string, done: (error: unknown, value?: session.SessionData | null) => void): void {
    done(null, null);
  }
  override set(_id: string, _value: session.SessionData, done?: (error?: unknown) => void): void {
    done?.();
  }
  override destroy(_id: string, done?: (error?: unknown) => void): void {
    done?.();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('logout markers in the session store', () => {
  it('a sid marker ends that Keycloak session; a sub marker ends sign-ins made at or before it', async () => {
    const store = new session.MemoryStore();
    const req = requestOn(store);
    const markers = createLogoutMarkers(1000);
    const now = Date.now();
    await markers.record(req, { sid: 'sid-1', at: now - 60_000 });
    await markers.record(req, { sub: 'ana/ŝ:1', at: now - 10_000 });
    // sid: whenever the sign-in began.
    expect(await markers.isLoggedOut(req, auth({ sid: 'sid-1', loggedInAt: now }))).toBe(true);
    expect(await markers.isLoggedOut(req, auth({ sid: 'sid-2' }))).toBe(false);
    // sub: only sign-ins that began at or before the logout.
    expect(await markers.isLoggedOut(req, auth({ sub: 'ana/ŝ:1', loggedInAt: now - 20_000 }))).toBe(true);
    expect(await markers.isLoggedOut(req, auth({ sub: 'ana/ŝ:1', loggedInAt: now - 10_000 }))).toBe(true);
    expect(await markers.isLoggedOut(req, auth({ sub: 'ana/ŝ:1', loggedInAt: now - 9_999 }))).toBe(false);
  });

  it('ids are a fixed prefix and a hash: no slash, colon or user text; the entry expires in 30 days', async () => {
    // Date only (the store's callbacks stay real); the markers' own clock an hour ahead of it.
    const realNow = Date.parse('2030-01-01T00:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'], now: realNow });
    const clockNow = realNow + 3600_000;
    const store = new session.MemoryStore();
    await createLogoutMarkers(1000, () => clockNow).record(requestOn(store), {
      sub: 'a/b:c d',
      sid: 'x/y',
      at: clockNow,
    });
    interface Entry {
      cookie: { expires: string };
      cernSsoExpiresAt: number;
    }
    const all = await new Promise<Record<string, Entry>>((resolve) => {
      store.all((_error, sessions) => {
        resolve((sessions ?? {}) as unknown as Record<string, Entry>);
      });
    });
    const ids = Object.keys(all).sort();
    expect(ids).toEqual([
      expect.stringMatching(/^cern-sso\.logout\.sid\.[A-Za-z0-9_-]{43}$/),
      expect.stringMatching(/^cern-sso\.logout\.sub\.[A-Za-z0-9_-]{43}$/),
    ]);
    for (const entry of Object.values(all)) {
      // The store expires it on its own (real) time; the library reads it by the injected clock.
      expect(Date.parse(entry.cookie.expires)).toBe(realNow + LOGOUT_MARKER_TTL_MS);
      expect(entry.cernSsoExpiresAt).toBe(clockNow + LOGOUT_MARKER_TTL_MS);
    }
  });

  it('a later marker is never replaced by an older one (a late delivery of an older token)', async () => {
    const req = requestOn(new session.MemoryStore());
    const markers = createLogoutMarkers(1000);
    const now = Date.now();
    await markers.record(req, { sub: 'jdoe', at: now });
    await markers.record(req, { sub: 'jdoe', at: now - 60_000 });
    expect(await markers.isLoggedOut(req, auth({ loggedInAt: now - 30_000 }))).toBe(true);
  });

  it('rejects with LogoutNotRecordedError when a store swallows the write', async () => {
    const req = requestOn(new ForgetfulStore());
    const markers = createLogoutMarkers(1000);
    await expect(markers.record(req, { sid: 'sid-1', at: Date.now() })).rejects.toBeInstanceOf(
      LogoutNotRecordedError,
    );
    await expect(markers.record(req, { sub: 'jdoe', at: Date.now() })).rejects.toBeInstanceOf(
      LogoutNotRecordedError,
    );
  });

  it('a store that never answers: the check rejects with StoreTimeoutError after the timeout', async () => {
    vi.useFakeTimers();
    const hanging = new ForgetfulStore();
    hanging.get = () => undefined; // never calls back
    const check = Promise.resolve(
      createLogoutMarkers(2000).isLoggedOut(requestOn(hanging), auth({ sid: 's' })),
    );
    const outcome = check.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(1999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBeInstanceOf(StoreTimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a "not logged out" answer is reused for LOGOUT_RECHECK_MS, and never after this instance recorded a logout', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = new session.MemoryStore();
    const req = requestOn(store);
    const reads = vi.spyOn(store, 'get');
    const instance = createLogoutMarkers(1000);
    const other = createLogoutMarkers(1000); // another instance on the same store
    const signIn = auth({ sid: 'sid-9' });
    expect(await instance.isLoggedOut(req, signIn)).toBe(false);
    const readsAfterFirst = reads.mock.calls.length;
    // Within the window: answered synchronously, no store read.
    expect(instance.isLoggedOut(req, signIn)).toBe(false);
    expect(reads.mock.calls.length).toBe(readsAfterFirst);
    // A logout recorded by another instance is seen once the window has passed...
    await other.record(req, { sid: 'sid-9', at: Date.now() });
    expect(instance.isLoggedOut(req, signIn)).toBe(false);
    vi.setSystemTime(Date.now() + LOGOUT_RECHECK_MS);
    expect(await instance.isLoggedOut(req, signIn)).toBe(true);
    // ...and one recorded by this instance at once.
    const again = auth({ sid: 'sid-10' });
    expect(await instance.isLoggedOut(req, again)).toBe(false);
    await instance.record(req, { sid: 'sid-10', at: Date.now() });
    expect(await instance.isLoggedOut(req, again)).toBe(true);
  });

  it('a store that answers clears its timer (none left behind per request)', async () => {
    vi.useFakeTimers();
    const store = new ForgetfulStore();
    const markers = createLogoutMarkers(2000);
    expect(await markers.isLoggedOut(requestOn(store), auth({ sid: 's' }))).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('remembers a token id (iss + jti) for the given time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const req = requestOn(new session.MemoryStore());
    const markers = createLogoutMarkers(1000);
    expect(await markers.wasUsed(req, 'https://idp', 'j1')).toBe(false);
    await markers.remember(req, 'https://idp', 'j1', 60_000);
    expect(await markers.wasUsed(req, 'https://idp', 'j1')).toBe(true);
    expect(await markers.wasUsed(req, 'https://other-idp', 'j1')).toBe(false);
    vi.setSystemTime(Date.now() + 60_001);
    expect(await markers.wasUsed(req, 'https://idp', 'j1')).toBe(false);
  });
});
