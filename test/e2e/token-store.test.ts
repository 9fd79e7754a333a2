import session from 'express-session';
import type { TokenRecord, TokenStore } from 'express-cern-sso';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };

/** A token store of the app's own (a Map), recording every call. */
function recordingTokenStore() {
  const records = new Map<string, { record: TokenRecord; ttlMs: number }>();
  const calls: { method: 'get' | 'set' | 'destroy'; id: string; ttlMs?: number }[] = [];
  let failing = false;
  const lost = () => Promise.reject(new Error('token store connection lost'));
  const store: TokenStore = {
    get(id) {
      calls.push({ method: 'get', id });
      return failing ? lost() : Promise.resolve(records.get(id)?.record);
    },
    set(id, record, ttlMs) {
      calls.push({ method: 'set', id, ttlMs });
      if (failing) return lost();
      // Stored as a remote store would: serialised.
      records.set(id, { record: JSON.parse(JSON.stringify(record)) as TokenRecord, ttlMs });
      return Promise.resolve();
    },
    destroy(id) {
      calls.push({ method: 'destroy', id });
      records.delete(id);
      return Promise.resolve();
    },
  };
  return {
    store,
    records,
    calls,
    fail(value: boolean) {
      failing = value;
    },
    of: (method: 'get' | 'set' | 'destroy') => calls.filter((call) => call.method === method),
  };
}

/** Every entry of a MemoryStore, serialised: to prove no token is in it. */
function storeDump(store: session.MemoryStore): Promise<{ ids: string[]; json: string }> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error as Error);
      else resolve({ ids: Object.keys(all ?? {}), json: JSON.stringify(all ?? {}) });
    });
  });
}

/** The id the browser's session points to (`req.session.cernSso.ref`). */
async function sessionRef(store: session.MemoryStore, browser: TestBrowser): Promise<string | undefined> {
  // The cookie is `s:<session id>.<signature>`, URL-encoded.
  const cookie = decodeURIComponent(browser.cookie('localhost', 'app.sid') ?? '');
  const sid = cookie.slice(2, cookie.lastIndexOf('.'));
  const stored = await new Promise<session.SessionData | null | undefined>((resolve, reject) => {
    store.get(sid, (error, value) => {
      if (error) reject(error as Error);
      else resolve(value);
    });
  });
  return stored?.cernSso?.ref;
}

/** No JWT, no record entry and no token field anywhere in the session store. */
async function expectNoTokens(store: session.MemoryStore): Promise<void> {
  const { ids, json } = await storeDump(store);
  expect(ids.filter((id) => id.startsWith('cern-sso.auth.'))).toEqual([]);
  expect(json).not.toMatch(/eyJ|cernSsoAuth|accessToken|refreshToken/);
}

let emulator: CernSsoEmulator;
beforeAll(async () => {
  // 20 s access tokens are "expiring" at once (30 s margin): every getAccessToken() refreshes.
  emulator = await startCernSsoEmulator({ autoLogin: 'jdoe', accessTokenTtlSec: 20 });
});
afterAll(async () => {
  await emulator.close();
});

describe('tokenStore: sign-in records in a store of the app', () => {
  let sessions: session.MemoryStore;
  let tokens: ReturnType<typeof recordingTokenStore>;
  let app: TestApp;
  beforeAll(async () => {
    sessions = new session.MemoryStore();
    tokens = recordingTokenStore();
    app = await startTestApp(emulator, {
      sessionStore: sessions,
      clientId: 'token-store-app',
      sso: { tokenStore: tokens.store },
    });
    const client = emulator.clients.get('token-store-app')!;
    emulator.registerClient({ ...client, backchannelLogoutUri: `${app.baseUrl}/oidc/backchannel-logout` });
  });
  afterAll(async () => {
    await app.close();
  });

  it('login: the record goes to the token store (set), the session store holds no token', async () => {
    const before = tokens.of('set').length;
    const browser = new TestBrowser();
    const page = await browser.navigate(`${app.baseUrl}/profile`);
    expect(page.body).toBe('profile of John Doe');
    const sets = tokens.of('set').slice(before);
    expect(sets).toHaveLength(1);
    const [set] = sets;
    expect(set?.id).toMatch(/^cern-sso\.auth\./);
    expect(set?.ttlMs).toBeGreaterThan(23 * 3600_000);
    const stored = tokens.records.get(set?.id ?? '')?.record as
      { auth: { sub: string; tokens: { accessToken: string } }; expiresAt: number } | undefined;
    expect(stored?.auth.sub).toBe('jdoe');
    expect(stored?.auth.tokens.accessToken).toMatch(/^eyJ/);
    expect(stored?.expiresAt).toBeGreaterThan(Date.now());
    expect(await sessionRef(sessions, browser)).toBe(set?.id);
    await expectNoTokens(sessions);
  });

  it('another instance sharing both stores reads the record from the token store (get)', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const ref = await sessionRef(sessions, browser);
    const client = emulator.clients.get('token-store-app')!;
    const second = await startTestApp(emulator, {
      sessionStore: sessions,
      clientId: 'token-store-app',
      sso: { tokenStore: tokens.store },
    });
    try {
      const cookie = browser.cookie('localhost', 'app.sid') ?? '';
      const gets = tokens.of('get').length;
      const me = await fetch(`${second.baseUrl}/api/me`, {
        headers: { ...JSON_ACCEPT, cookie: `app.sid=${cookie}` },
      });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ user: { login: 'jdoe' } });
      expect(tokens.of('get').slice(gets)).toEqual([{ method: 'get', id: ref }]);
    } finally {
      await second.close();
      emulator.registerClient(client); // the second instance registered its own redirect URI
    }
  });

  it('refresh: a new record is set, the old one kept for a grace period only', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const first = await sessionRef(sessions, browser);
    const before = tokens.of('set').length;
    expect((await browser.request(`${app.baseUrl}/api/token-info`)).status).toBe(200);
    const second = await sessionRef(sessions, browser);
    expect(second).not.toBe(first);
    const sets = tokens.of('set').slice(before);
    expect(sets.find((call) => call.id === second)?.ttlMs).toBeGreaterThan(23 * 3600_000);
    const retired = sets.find((call) => call.id === first);
    expect(retired?.ttlMs).toBeLessThanOrEqual(120_000);
    await expectNoTokens(sessions);
  });

  it('logout: the record is destroyed', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const ref = await sessionRef(sessions, browser);
    await browser.request(`${app.baseUrl}/logout`, { method: 'POST' });
    expect(tokens.of('destroy').map((call) => call.id)).toContain(ref);
    expect(tokens.records.has(ref ?? '')).toBe(false);
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
  });

  it('back-channel logout: the session is signed out when next used, and its record destroyed', async () => {
    emulator.setAutoLogin('mmartin');
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    const ref = await sessionRef(sessions, browser);
    expect(tokens.records.has(ref ?? '')).toBe(true);
    await emulator.endSsoSessions('mmartin');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
    expect(tokens.of('destroy').map((call) => call.id)).toContain(ref);
    expect(tokens.records.has(ref ?? '')).toBe(false);
    emulator.setAutoLogin('jdoe');
  });

  it('the token store failing: 503 with Retry-After (not "signed out"), signed in again once it is back', async () => {
    const browser = new TestBrowser();
    await browser.navigate(`${app.baseUrl}/profile`);
    await app.sso.close(); // nothing held in process: the record must be read from the store
    tokens.fail(true);
    try {
      const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
      expect(me.status).toBe(503);
      expect(me.headers.get('retry-after')).toMatch(/^\d+$/);
      const body = (await me.json()) as Record<string, unknown>;
      // `code` in the { error, error_description, code } shape, `error` before it.
      expect(body.code ?? body.error).toBe('ERR_UPSTREAM_UNAVAILABLE');
      expect(JSON.stringify(body)).not.toMatch(/connection lost|at .*\.js/);
    } finally {
      tokens.fail(false);
    }
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });
});

describe('default: records are entries of the session store', () => {
  it('named cern-sso.auth.*, listed by store.all(), holding the tokens', async () => {
    const sessions = new session.MemoryStore();
    const app = await startTestApp(emulator, { sessionStore: sessions, clientId: 'token-store-default' });
    try {
      const browser = new TestBrowser();
      await browser.navigate(`${app.baseUrl}/profile`);
      const { ids, json } = await storeDump(sessions);
      const ref = await sessionRef(sessions, browser);
      expect(ref).toMatch(/^cern-sso\.auth\./);
      expect(ids).toContain(ref);
      expect(json).toMatch(/"accessToken":"eyJ/);
    } finally {
      await app.close();
    }
  });
});

describe('tokenStore option', () => {
  it('anything without get, set and destroy is ERR_CONFIG', async () => {
    const { cernSso } = await import('express-cern-sso');
    expect(() =>
      cernSso({
        clientId: 'x',
        clientSecret: 'y',
        baseUrl: 'http://localhost:3000',
        tokenStore: { get: () => undefined } as unknown as TokenStore,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(/tokenStore/) }));
  });
});
