import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveIdentityConfig } from '../../src/config.js';
import { buildIdentityProvider } from '../../src/identity/identity-provider.js';
import type { IdentityProvider, IterationProgress } from '../../src/identity/types.js';
import type { CernSsoEmulator } from '../../src/testing/index.js';
import { API, recordingLogger, rejectionOf, startEmulator } from './helpers.js';

const IDENTITY = `${API}/Identity`;

let emulator: CernSsoEmulator;
let identity: IdentityProvider;
/** Waits asked for by the retries: recorded, not waited. */
let waits: number[];

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
  waits = [];
  const config = resolveIdentityConfig({
    clientId: 'demo-app',
    clientSecret: 'demo-app-secret',
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger: recordingLogger(),
  });
  identity = buildIdentityProvider(config, {
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
});
afterEach(async () => {
  await identity.close();
});

/** Logins of a whole iteration, with its progress reports. */
async function run(
  filters?: string[],
  after?: string,
): Promise<{ logins: string[]; progress: IterationProgress[] }> {
  const logins: string[] = [];
  const progress: IterationProgress[] = [];
  const options = {
    onProgress: (report: IterationProgress) => void progress.push(report),
    ...(after ? { after } : {}),
  };
  for await (const user of identity.iterateIdentities(filters, options)) logins.push(user.login);
  return { logins, progress };
}

describe('iterateIdentities progress and resume', () => {
  it('reports { pages, items, cursor } after each complete page; the last cursor is null', async () => {
    const total = emulator.users.length;
    const { logins, progress } = await run();
    expect(logins).toHaveLength(total);
    const pages = Math.ceil(total / 1000);
    expect(progress.map((report) => report.pages)).toEqual(Array.from({ length: pages }, (_, i) => i + 1));
    expect(progress.map((report) => report.items)).toEqual(
      Array.from({ length: pages }, (_, i) => Math.min(total, (i + 1) * 1000)),
    );
    for (const report of progress.slice(0, -1))
      expect(report.cursor).toMatch(/^\/api\/v1\.0\/Identity\?.*token=/);
    expect(progress.at(-1)?.cursor).toBeNull();
  });

  it('onProgress runs once the caller took every item of the page', async () => {
    let taken = 0;
    const seenAtReport: number[] = [];
    for await (const _user of identity.iterateIdentities([], {
      onProgress: ({ items }) => {
        seenAtReport.push(taken);
        expect(items).toBe(taken);
      },
    }))
      taken += 1;
    expect(seenAtReport[0]).toBe(1000);
  });

  it('after: resumes with the next page, nothing repeated, nothing skipped', async () => {
    const full = await run();
    // A job that stopped after page 1 (crash), then resumes from the cursor it stored.
    const firstPage: string[] = [];
    const stored: { cursor: string | null } = { cursor: null };
    for await (const user of identity.iterateIdentities([], {
      onProgress: (report) => {
        stored.cursor = report.cursor;
      },
    })) {
      firstPage.push(user.login);
      if (stored.cursor !== null) break;
    }
    expect(firstPage).toHaveLength(1001); // the loop saw the first item of page 2 before breaking
    firstPage.pop();
    emulator.requests.reset();
    const resumed = await run([], stored.cursor ?? undefined);
    expect([...firstPage, ...resumed.logins]).toEqual(full.logins);
    expect(emulator.requests.count(IDENTITY)).toBe(Math.ceil(emulator.users.length / 1000) - 1);
    expect(resumed.progress[0]?.pages).toBe(1);
  });

  it('a resume with filters keeps them; a cursor made for other filters is refused at the call', async () => {
    const filters = ['upn:startswith:user'];
    const { progress } = await run(filters);
    const cursor = progress[0]?.cursor ?? '';
    expect(cursor).toContain('filter=upn');
    expect(() => identity.iterateIdentities(['upn:startswith:x'], { after: cursor })).toThrow(
      /other filters/,
    );
    expect(() => identity.iterateGroups(filters, { after: cursor })).toThrow(/another listing/);
  });

  it('refuses a cursor that would leave the API host, before any request', () => {
    emulator.requests.reset();
    for (const after of [
      'https://evil.example/api/v1.0/Identity?token=x',
      '//evil.example/api/v1.0/Identity?token=x',
      '/\\evil.example/api/v1.0/Identity?token=x',
      `${emulator.authzApiUrl}/api/v1.0/Identity?token=x`,
    ]) {
      expect(() => identity.iterateIdentities([], { after })).toThrow(
        expect.objectContaining({ code: 'ERR_BAD_REQUEST', status: 400 }),
      );
    }
    expect(emulator.requests.count(API)).toBe(0);
  });
});

describe('iterateIdentities retries', () => {
  it('retries a page answering 503 (jittered backoff) and completes with every identity once', async () => {
    emulator.faults.set(IDENTITY, { status: 503, skip: 1, times: 2 });
    const { logins } = await run();
    expect(new Set(logins).size).toBe(emulator.users.length);
    expect(logins).toHaveLength(emulator.users.length);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThan(500);
    expect(waits[1]).toBeLessThan(1000);
    expect(emulator.requests.count(IDENTITY)).toBe(Math.ceil(emulator.users.length / 1000) + 2);
  });

  it('waits the Retry-After of a 429 (bounded to 30 s)', async () => {
    emulator.faults.set(IDENTITY, { status: 429, retryAfterSec: 12, times: 1 });
    await run(['upn:eq:jdoe']);
    emulator.faults.set(IDENTITY, { status: 503, retryAfterSec: 3600, times: 1 });
    await run(['upn:eq:jdoe']);
    expect(waits).toEqual([12_000, 30_000]);
  });

  it('gives up after 3 retries with a 503', async () => {
    emulator.faults.set(IDENTITY, { status: 503 });
    const error = await rejectionOf(run());
    expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(emulator.requests.count(IDENTITY)).toBe(4);
    expect(waits).toHaveLength(3);
  });

  it('does not retry a 4xx', async () => {
    emulator.faults.set(IDENTITY, { status: 400, skip: 1 });
    const error = await rejectionOf(run());
    expect(error).toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' });
    expect(emulator.requests.count(IDENTITY)).toBe(2);
    expect(waits).toEqual([]);
  });

  it('retries a page that got no answer (timeout)', async () => {
    const config = resolveIdentityConfig({
      clientId: 'demo-app',
      clientSecret: 'demo-app-secret',
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      logger: recordingLogger(),
      searchTimeoutMs: 200,
    });
    const impatient = buildIdentityProvider(config, {
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    emulator.faults.set(IDENTITY, { hang: true, times: 1 });
    const logins: string[] = [];
    for await (const user of impatient.iterateIdentities(['upn:eq:jdoe'])) logins.push(user.login);
    await impatient.close();
    expect(logins).toEqual(['jdoe']);
    expect(waits).toHaveLength(1);
    expect(emulator.requests.count(IDENTITY)).toBe(2);
  });
});

describe('iterateGroups', () => {
  it('takes the same options: progress and a final null cursor', async () => {
    const progress: IterationProgress[] = [];
    const ids: string[] = [];
    for await (const group of identity.iterateGroups(['groupIdentifier:startswith:it-'], {
      onProgress: (report) => void progress.push(report),
    }))
      ids.push(group.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(progress).toEqual([{ pages: 1, items: ids.length, cursor: null }]);
  });
});
