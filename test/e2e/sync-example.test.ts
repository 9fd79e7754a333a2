/**
 * examples/sync: CERN identities mirrored into a real SQLite file (better-sqlite3) from the
 * emulator's Authorization Service: full sync, delta sync on modificationTime, a crash mid-way
 * resumed from the stored cursor, transient 503 pages retried, and `npm run demo:sync` itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createIdentityProvider, type IdentityProvider } from 'express-cern-sso';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSyncStore, type SyncStore } from '../../examples/sync/store.js';
import { syncIdentities } from '../../examples/sync/sync.js';

const IDENTITY = '/api/v1.0/Identity';

let emulator: CernSsoEmulator;
let identity: IdentityProvider;
let dir: string;
let store: SyncStore;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
  identity = createIdentityProvider({
    clientId: demoClient.clientId,
    clientSecret: demoClient.clientSecret,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
  });
  dir = mkdtempSync(join(tmpdir(), 'sync-example-'));
  store = openSyncStore(join(dir, 'identities.db'));
});
afterEach(async () => {
  store.close();
  await identity.close();
  rmSync(dir, { recursive: true, force: true });
});

const pagesOf = (rows: number): number => Math.ceil(rows / 1000);

describe('examples/sync', () => {
  it('a full sync copies every seeded identity into the SQLite file', async () => {
    const total = emulator.users.length;
    const result = await syncIdentities({ identity, store });
    expect(result).toMatchObject({ mode: 'full', filters: [], items: total, pages: pagesOf(total) });
    expect(store.count()).toBe(total);
    expect(store.get('jdoe')).toMatchObject({ login: 'jdoe', person_id: 123456, email: 'john.doe@cern.ch' });
    expect(emulator.requests.count(IDENTITY)).toBe(pagesOf(total));
  });

  it('a delta sync fetches only the identity changed at the emulator since the last run', async () => {
    await syncIdentities({ identity, store });
    const jdoe = emulator.users.find((user) => user.login === 'jdoe');
    if (jdoe === undefined) throw new Error('seed without jdoe');
    const before = { displayName: jdoe.displayName, modificationTime: jdoe.modificationTime };
    try {
      jdoe.displayName = 'John Q. Doe';
      jdoe.modificationTime = new Date().toISOString();
      emulator.requests.reset();
      // This run starts 10 min later (its watermark minus the 5 min clock margin is past the change).
      const result = await syncIdentities({ identity, store, now: () => Date.now() + 10 * 60_000 });
      expect(result.mode).toBe('delta');
      expect(result.filters).toEqual([expect.stringMatching(/^modificationTime:gt:\d{4}-/)]);
      expect(result.items).toBe(1);
      expect(emulator.requests.count(IDENTITY)).toBe(1);
      expect(store.get('jdoe')?.display_name).toBe('John Q. Doe');
      expect(store.count()).toBe(emulator.users.length);
      // Nothing changed since that run started (minus the margin): the next delta fetches nothing.
      expect((await syncIdentities({ identity, store })).items).toBe(0);
    } finally {
      Object.assign(jdoe, before);
    }
  });

  it('a crash on page 2 resumes from the stored cursor: nothing repeated, nothing skipped', async () => {
    const total = emulator.users.length;
    // Page 2 fails for good (Retry-After: 0 so the library's 3 retries do not wait): the run dies.
    emulator.faults.set(IDENTITY, { status: 500, retryAfterSec: 0, skip: 1 });
    await expect(syncIdentities({ identity, store })).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
    expect(store.count()).toBe(1000); // page 1 committed with its cursor
    expect(store.pending()?.cursor).toMatch(/^\/api\/v1\.0\/Identity\?/);

    emulator.faults.clear();
    emulator.requests.reset();
    const resumed = await syncIdentities({ identity, store });
    expect(resumed).toMatchObject({ mode: 'resumed', items: total - 1000, pages: pagesOf(total) - 1 });
    expect(emulator.requests.count(IDENTITY)).toBe(pagesOf(total) - 1);
    expect(store.count()).toBe(total);
    expect(store.pending()).toBeUndefined();
    // The resumed run completed: the next one is a delta.
    expect((await syncIdentities({ identity, store })).mode).toBe('delta');
  });

  it('a page answering 503 twice is retried and the sync completes', async () => {
    const total = emulator.users.length;
    emulator.faults.set(IDENTITY, { status: 503, retryAfterSec: 0, skip: 1, times: 2 });
    const result = await syncIdentities({ identity, store });
    expect(result).toMatchObject({ mode: 'full', items: total });
    expect(store.count()).toBe(total);
    expect(emulator.requests.count(IDENTITY)).toBe(pagesOf(total) + 2);
  });

  it('`npm run demo:sync` syncs, changes jdoe and delta-syncs only jdoe', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'examples/sync/start.ts'],
      {
        env: { ...process.env, SYNC_DB: join(dir, 'demo.db') },
        timeout: 30_000,
      },
    );
    expect(stdout).toMatch(/full sync \(no filter\): \d+ identities in \d+ page\(s\)/);
    expect(stdout).toMatch(/delta sync \(modificationTime:gt:[^)]+\): 1 identities in 1 page\(s\)/);
    expect(stdout).toContain('jdoe in the table: "John Q. Doe"');
  }, 40_000);
});
