/**
 * Session lifetimes and fresh claims through real HTTP (app + emulator), time moved by an
 * injected clock (no waiting): `absoluteTimeoutMs`, `idleTimeoutMs`, `claimsTtlMs` (roles and a
 * `groups` claim follow Keycloak; a session ended there signs out; an outage keeps the old
 * claims) and `groupsTtlMs` for e-groups read from the AuthZ API.
 */
import session from 'express-session';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CernSsoOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';

const TOKEN_PATH = '/auth/realms/cern/protocol/openid-connect/token';
const MINUTE = 60_000;

/** A clock that only moves when told to, starting on real time (the emulator stamps in real time). */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let at = Date.now();
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

/** Ids of the sign-in records in a MemoryStore. */
function recordIds(store: session.MemoryStore): Promise<string[]> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error as Error);
      else
        resolve(
          Object.entries((all ?? {}) as Record<string, object>)
            .filter(([, value]) => 'cernSsoAuth' in value)
            .map(([id]) => id),
        );
    });
  });
}

let emulator: CernSsoEmulator;
let counter = 0;
const apps: TestApp[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterEach(async () => {
  emulator.faults.clear();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  await emulator.close();
});

/** A signed-in user of a new app with its own clock and session store. */
async function signedIn(login: string, sso: Partial<CernSsoOptions> = {}, groupsClaim = false) {
  const clock = manualClock();
  const store = new session.MemoryStore();
  const clientId = `lifetimes-${String(++counter)}`;
  const app = await startTestApp(emulator, { clientId, sessionStore: store, sso: { clock, ...sso } });
  apps.push(app);
  const client = emulator.clients.get(clientId);
  if (client && groupsClaim) client.groupsClaim = true;
  const { cookie } = await emulator.login({ baseUrl: app.baseUrl, login });
  const get = (path: string) =>
    fetch(`${app.baseUrl}${path}`, { headers: { cookie, accept: 'application/json' } });
  const status = async (path: string) => (await get(path)).status;
  /** The signed-in login, or undefined when anonymous. */
  const whoAmI = async (): Promise<string | undefined> => {
    const response = await get('/api/me');
    if (response.status === 401) return undefined;
    expect(response.status).toBe(200);
    return ((await response.json()) as { user: { login: string } }).user.login;
  };
  const roles = async (): Promise<string[]> => {
    const response = await get('/api/me');
    expect(response.status).toBe(200);
    return ((await response.json()) as { user: { roles: string[] } }).user.roles;
  };
  return { app, clock, store, clientId, get, status, whoAmI, roles };
}

describe('absoluteTimeoutMs', () => {
  it('signs the user out at the first request past it since the login; the record is deleted', async () => {
    const user = await signedIn('jdoe', { absoluteTimeoutMs: 20 * MINUTE, claimsTtlMs: 60 * MINUTE });
    expect(await recordIds(user.store)).toHaveLength(1);
    user.clock.advance(20 * MINUTE - 1_000);
    expect(await user.whoAmI()).toBe('jdoe');
    expect(await recordIds(user.store)).toHaveLength(1);

    user.clock.advance(1_000);
    // Anonymous: the guard answers 401, the home page shows an anonymous visitor.
    expect(await user.status('/api/me')).toBe(401);
    expect(await (await user.get('/')).text()).toBe('home (anonymous)');
    expect(await recordIds(user.store)).toEqual([]);
    expect(user.app.logger.lines('info').join('\n')).toMatch(/sign-in expired.*absoluteTimeoutMs/);
  });

  it('is not extended by activity or token refreshes', async () => {
    const user = await signedIn('jdoe', { absoluteTimeoutMs: 6 * MINUTE, claimsTtlMs: 60 * MINUTE });
    for (let minute = 0; minute < 5; minute++) {
      user.clock.advance(MINUTE);
      expect(await user.status('/api/token-info')).toBe(200);
    }
    user.clock.advance(MINUTE);
    expect(await user.whoAmI()).toBeUndefined();
  });
});

describe('idleTimeoutMs', () => {
  const options = { idleTimeoutMs: 10 * MINUTE, claimsTtlMs: 60 * MINUTE };

  it('activity keeps the sign-in alive past idleTimeoutMs since the login', async () => {
    const user = await signedIn('jdoe', options);
    for (let step = 0; step < 4; step++) {
      user.clock.advance(5 * MINUTE);
      expect(await user.whoAmI()).toBe('jdoe');
    }
  });

  it('no request for idleTimeoutMs signs the user out and deletes the record', async () => {
    const user = await signedIn('jdoe', options);
    user.clock.advance(5 * MINUTE);
    expect(await user.whoAmI()).toBe('jdoe');
    user.clock.advance(10 * MINUTE - 1_000);
    expect(await user.whoAmI()).toBe('jdoe');
    user.clock.advance(10 * MINUTE);
    expect(await user.whoAmI()).toBeUndefined();
    expect(await recordIds(user.store)).toEqual([]);
    expect(user.app.logger.lines('info').join('\n')).toMatch(/sign-in expired.*idleTimeoutMs/);
  });
});

describe('claimsTtlMs', () => {
  const options = { claimsTtlMs: MINUTE };

  it('a role added at Keycloak is seen after claimsTtlMs, not before (requireRole 403 → 200)', async () => {
    const user = await signedIn('jdoe', options);
    expect(await user.status('/admin')).toBe(403);
    emulator.setRoles(user.clientId, 'jdoe', ['user', 'admin']);
    user.clock.advance(MINUTE - 1_000);
    expect(await user.status('/admin')).toBe(403);
    expect(await user.roles()).toEqual(['user']);
    emulator.requests.reset();
    user.clock.advance(1_000);
    expect(await user.status('/admin')).toBe(200);
    expect(await user.roles()).toEqual(['user', 'admin']);
    // One refresh, then the new claims are kept for another claimsTtlMs.
    expect(emulator.requests.count(TOKEN_PATH, 'POST')).toBe(1);
  });

  it('a role removed at Keycloak is lost after claimsTtlMs (requireRole 200 → 403)', async () => {
    const user = await signedIn('admin1', options);
    expect(await user.status('/admin')).toBe(200);
    emulator.setRoles(user.clientId, 'admin1', ['user']);
    user.clock.advance(MINUTE - 1_000);
    expect(await user.status('/admin')).toBe(200);
    user.clock.advance(1_000);
    expect(await user.status('/admin')).toBe(403);
    expect(await user.whoAmI()).toBe('admin1');
  });

  it('a removal from an e-group in the groups claim is seen after claimsTtlMs (requireGroup 200 → 403)', async () => {
    const group = emulator.groups.find((entry) => entry.id === 'it-dep-admins');
    const members = group?.members ?? [];
    const user = await signedIn('admin1', options, true);
    try {
      expect(await user.status('/it-admins')).toBe(200);
      if (group) group.members = members.filter((login) => login !== 'admin1');
      user.clock.advance(MINUTE - 1_000);
      expect(await user.status('/it-admins')).toBe(200);
      user.clock.advance(1_000);
      expect(await user.status('/it-admins')).toBe(403);
    } finally {
      if (group) group.members = members;
    }
  });

  it('a Keycloak session ended signs the user out at the next claims refresh', async () => {
    const user = await signedIn('lnguyen', options);
    await emulator.endSsoSessions('lnguyen');
    expect(await user.whoAmI()).toBe('lnguyen');
    user.clock.advance(MINUTE);
    expect(await user.whoAmI()).toBeUndefined();
    expect(await recordIds(user.store)).toEqual([]);
  });

  it('Keycloak down at the claims refresh: still signed in with the old claims, a warning, tried again later', async () => {
    const user = await signedIn('jdoe', options);
    emulator.setRoles(user.clientId, 'jdoe', ['user', 'admin']);
    emulator.faults.set(TOKEN_PATH, { status: 503 });
    user.clock.advance(MINUTE);
    // A page that needs no token: 200 with the claims of the login (no 503).
    expect(await user.status('/admin')).toBe(403);
    expect(await user.roles()).toEqual(['user']);
    expect(user.app.logger.lines('warn').join('\n')).toMatch(/claims refresh failed; keeping the claims/);
    // Not tried at every request while it is down.
    emulator.requests.reset();
    expect(await user.whoAmI()).toBe('jdoe');
    expect(emulator.requests.count(TOKEN_PATH, 'POST')).toBe(0);
    // Back up: a minute later the claims are refreshed.
    emulator.faults.clear();
    user.clock.advance(MINUTE);
    expect(await user.status('/admin')).toBe(200);
    expect(user.app.logger.text()).not.toMatch(/eyJ/);
  });
});

describe('groupsTtlMs (e-groups from the AuthZ API)', () => {
  it('a removal from an e-group loses requireGroup within groupsTtlMs (200 → 403)', async () => {
    const group = emulator.groups.find((entry) => entry.id === 'it-dep-admins');
    const members = group?.members ?? [];
    const user = await signedIn('admin1', { groupsTtlMs: 2 * MINUTE, claimsTtlMs: 60 * MINUTE });
    try {
      expect(await user.status('/it-admins')).toBe(200);
      if (group) group.members = members.filter((login) => login !== 'admin1');
      user.clock.advance(MINUTE);
      expect(await user.status('/it-admins')).toBe(200);
      user.clock.advance(MINUTE);
      expect(await user.status('/it-admins')).toBe(403);
    } finally {
      if (group) group.members = members;
    }
  });
});
