import session from 'express-session';
import { memoryCache } from 'express-cern-sso';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** Every entry of a MemoryStore, by id. */
function storeEntries(store: session.MemoryStore): Promise<Record<string, Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error as Error);
      else resolve((all ?? {}) as unknown as Record<string, Record<string, unknown>>);
    });
  });
}

async function entries(store: session.MemoryStore) {
  const all = Object.entries(await storeEntries(store));
  return {
    sessions: all.filter(([, value]) => value.cernSsoAuth === undefined),
    records: all.filter(([, value]) => value.cernSsoAuth !== undefined),
  };
}

const JSON_ACCEPT = { accept: 'application/json' };

let emulator: CernSsoEmulator;
beforeAll(async () => {
  emulator = await startCernSsoEmulator({ autoLogin: 'jdoe' });
});
afterAll(async () => {
  await emulator.close();
});

describe('tokens and claims live in a record next to the session, not in it', () => {
  let store: session.MemoryStore;
  let app: TestApp;
  beforeAll(async () => {
    store = new session.MemoryStore();
    app = await startTestApp(emulator, { sessionStore: store, clientId: 'records-app' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('the session holds only a pointer; the record holds the tokens and claims', async () => {
    const browser = new TestBrowser();
    const page = await browser.navigate(`${app.baseUrl}/profile`);
    expect(page.body).toBe('profile of John Doe');
    const { sessions, records } = await entries(store);
    const signedIn = sessions.filter(([, value]) => value.cernSso !== undefined);
    expect(signedIn).toHaveLength(1);
    const [, stored] = signedIn[0] ?? [];
    const pointer = stored?.cernSso as { ref: string };
    expect(Object.keys(pointer)).toEqual(['ref']);
    expect(JSON.stringify(stored)).not.toMatch(/eyJ/); // no JWT in the session
    expect(JSON.stringify(stored).length).toBeLessThan(400);
    const record = records.find(([id]) => id === pointer.ref)?.[1];
    expect(record).toMatchObject({
      cernSsoAuth: { sub: 'jdoe', claims: { sub: 'jdoe', name: 'John Doe' } },
    });
    const tokens = (record?.cernSsoAuth as { tokens: Record<string, unknown> }).tokens;
    expect(tokens.accessToken).toMatch(/^eyJ/);
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect(tokens.idToken).toMatch(/^eyJ/);
    // The record expires by itself (at least a day, or the session cookie's maxAge).
    const expires = Date.parse((record?.cookie as { expires: string }).expires);
    expect(expires - Date.now()).toBeGreaterThan(23 * 3600_000);
  });

  it('logout deletes the record', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const before = await entries(store);
    await browser.request(`${app.baseUrl}/logout`, { method: 'POST' });
    const after = await entries(store);
    expect(after.records.length).toBe(before.records.length - 1);
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
  });

  it('another app instance on the same store reads the record (no tokens in process needed)', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const cookie = browser.cookie('localhost', 'app.sid');
    const second = await startTestApp(emulator, { sessionStore: store, clientId: 'records-app' });
    try {
      const response = await fetch(`${second.baseUrl}/api/me`, {
        headers: { ...JSON_ACCEPT, cookie: `app.sid=${cookie ?? ''}` },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user: { login: 'jdoe' }, authenticated: true });
    } finally {
      await second.close();
    }
  });

  it('a session whose record is gone is signed out (anonymous, not an error)', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const { records } = await entries(store);
    for (const [id] of records) {
      await new Promise((resolve) => {
        store.destroy(id, resolve);
      });
    }
    await app.sso.close(); // forget the records held in process
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
    expect(me.status).toBe(401);
    expect(await me.json()).toMatchObject({ code: 'ERR_NOT_AUTHENTICATED' });
    const home = await browser.request(`${app.baseUrl}/`);
    expect(await home.text()).toBe('home (anonymous)');
  });

  it('a refresh writes a new record, points the session to it and retires the old one', async () => {
    const shortLived = await startCernSsoEmulator({ accessTokenTtlSec: 31, autoLogin: 'jdoe' });
    const shortStore = new session.MemoryStore();
    const shortApp = await startTestApp(shortLived, { sessionStore: shortStore });
    try {
      const browser = new TestBrowser();
      await browser.navigate(`${shortApp.baseUrl}/login`);
      const [, firstSession] = (await entries(shortStore)).sessions[0] ?? [];
      const firstRef = (firstSession?.cernSso as { ref: string }).ref;
      // 31 s tokens are "expiring" 1 s after issue (30 s margin): move the clock 2 s on.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 2000);
      expect((await browser.request(`${shortApp.baseUrl}/api/token-info`)).status).toBe(200);
      const { sessions, records } = await entries(shortStore);
      const secondRef = (sessions[0]?.[1].cernSso as { ref: string }).ref;
      expect(secondRef).not.toBe(firstRef);
      const old = records.find(([id]) => id === firstRef)?.[1];
      // Kept briefly for requests still in flight with the old pointer, then gone.
      expect(Date.parse((old?.cookie as { expires: string }).expires) - Date.now()).toBeLessThanOrEqual(
        120_000,
      );
      expect(records.some(([id]) => id === secondRef)).toBe(true);
    } finally {
      vi.useRealTimers();
      await shortApp.close();
      await shortLived.close();
    }
  });
});

describe('a session store that cannot be written', () => {
  it('the callback answers 503 with Retry-After, not a 500, and login works once the store is back', async () => {
    const store = new session.MemoryStore();
    const app = await startTestApp(emulator, { sessionStore: store, clientId: 'records-app-3' });
    const set = store.set.bind(store);
    try {
      store.set = (_id, _session, done) => done?.(new Error('connection lost'));
      // /login stores nothing on the server, so it works; the callback cannot store the session.
      const browser = new TestBrowser();
      const start = await browser.request(`${app.baseUrl}/login`);
      expect(start.status).toBe(302);
      const idp = new TestBrowser();
      const callback = new URL(
        (await idp.request(start.headers.get('location') ?? '')).headers.get('location') ?? '',
      );
      const down = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await down.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
      store.set = set;
      const page = await new TestBrowser().navigate(`${app.baseUrl}/profile`);
      expect(page.body).toBe('profile of John Doe');
    } finally {
      await app.close();
    }
  });
});

describe('a session store that cannot be read', () => {
  it('a signed-in request answers 503 with Retry-After, not a 500 and not "signed out"', async () => {
    const store = new session.MemoryStore();
    const app = await startTestApp(emulator, { sessionStore: store, clientId: 'records-app-2' });
    try {
      const browser = new TestBrowser();
      await browser.navigate(`${app.baseUrl}/profile`);
      await app.sso.close(); // nothing held in process: the record must be read from the store
      const get = store.get.bind(store);
      store.get = (id, done) => {
        if (id.startsWith('cern-sso.')) done(new Error('connection lost'));
        else get(id, done);
      };
      const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
      expect(me.status).toBe(503);
      expect(me.headers.get('retry-after')).toMatch(/^\d+$/);
      const body = (await me.json()) as { code: string; error_description: string };
      expect(body.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
      expect(body.error_description).not.toMatch(/at .*\.js/);
      store.get = get;
      expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('a store that cannot write: /login still works (stores nothing), the callback answers 503', async () => {
    const store = new session.MemoryStore();
    const app = await startTestApp(emulator, { sessionStore: store, clientId: 'records-app-3' });
    const set = store.set.bind(store);
    try {
      store.set = (_id, _session, done) => {
        done?.(new Error('READONLY You can not write against a read only replica'));
      };
      const browser = new TestBrowser();
      const start = await browser.request(`${app.baseUrl}/login`);
      expect(start.status).toBe(302);
      // The store fails when the callback saves the signed-in session.
      store.set = set;
      const authorize = new URL(start.headers.get('location') ?? '');
      const idp = new TestBrowser();
      const callback = new URL((await idp.request(authorize.href)).headers.get('location') ?? '');
      store.set = (_id, _session, done) => {
        done?.(new Error('connection lost'));
      };
      const response = await browser.request(callback.href);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await response.text()).toMatch(/temporarily unavailable/i);
      expect(app.logger.text()).not.toMatch(/eyJ/);
    } finally {
      store.set = set;
      await app.close();
    }
  });
});

describe('a token refresh that re-reads the session (lock-capable cache, several instances)', () => {
  let shortLived: CernSsoEmulator;
  let store: session.MemoryStore;
  let app: TestApp;
  /** After one more successful read of a session, its reads answer like this. */
  let armed: 'gone' | 'down' | undefined;
  let armSessionStore: (mode: typeof armed) => void = () => undefined;
  beforeAll(async () => {
    // 31 s tokens are "expiring" 1 s after issue (30 s refresh margin).
    shortLived = await startCernSsoEmulator({ accessTokenTtlSec: 31, autoLogin: 'jdoe' });
    store = new session.MemoryStore();
    const get = store.get.bind(store);
    let reads = 0;
    store.get = (id, done) => {
      if (armed === undefined || id.startsWith('cern-sso.') || reads++ === 0) {
        get(id, done);
      } else if (armed === 'gone') {
        done(null, null); // another instance destroyed it
      } else {
        done(new Error('connection lost'));
      }
    };
    armSessionStore = (mode) => {
      armed = mode;
      reads = 0;
    };
    // Only its lock matters: refreshAcrossInstances then reloads the session from the store.
    const cache = Object.assign(memoryCache(), {
      lock: () => Promise.resolve('token'),
      unlock: () => Promise.resolve(),
    });
    app = await startTestApp(shortLived, { sessionStore: store, clientId: 'reload-app', sso: { cache } });
  });
  afterAll(async () => {
    await app.close();
    await shortLived.close();
  });
  async function expiringSession(): Promise<TestBrowser> {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/login`);
    // 31 s tokens are "expiring" 1 s after issue: move the clock 2 s on (sockets stay real).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 2000);
    return browser;
  }
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the session destroyed elsewhere during the refresh: 401 ERR_SESSION_EXPIRED, and it stays gone', async () => {
    const browser = await expiringSession();
    const before = (await entries(store)).sessions.length;
    armSessionStore('gone');
    const response = await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT });
    armSessionStore(undefined);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'ERR_SESSION_EXPIRED' });
    // Not written back into the store by the sign-out.
    expect((await entries(store)).sessions.length).toBe(before - 1);
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
    expect(me.status).toBe(401);
  });

  it('the session store failing during the refresh: 503 with Retry-After, still signed in after', async () => {
    const browser = await expiringSession();
    armSessionStore('down');
    const response = await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT });
    armSessionStore(undefined);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect((await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT })).status).toBe(
      200,
    );
  });
});
