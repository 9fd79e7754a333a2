import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveIdentityConfig } from '../../src/config.js';
import { CernSsoError } from '../../src/errors.js';
import type { CernSsoEmulator } from '../../src/testing/index.js';
import {
  API,
  API_TOKEN,
  fakeClock,
  makeProvider,
  MEMBERSHIP,
  rejectionOf,
  startEmulator,
  type ProviderSetup,
} from './helpers.js';

const MINUTE = 60_000;

let emulator: CernSsoEmulator;
let setup: ProviderSetup;
let clock: ReturnType<typeof fakeClock>;

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
  clock = fakeClock();
  setup = makeProvider(emulator, {
    groupsTtlMs: 30 * MINUTE,
    httpTimeoutMs: 300,
    searchTimeoutMs: 600,
    clock,
  });
});
afterEach(async () => {
  await setup.identity.close();
});

function expectUnavailable(error: unknown): void {
  expect(error).toBeInstanceOf(CernSsoError);
  expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
  expect((error as CernSsoError).headers['Retry-After']).toMatch(/^[1-9]\d*$/);
}

describe('stale-if-error', () => {
  it('cache stale + API 503: serves the stale groups with a warning, and backs off', async () => {
    const groups = await setup.identity.getUserGroups('jdoe');
    clock.advance(31 * MINUTE);
    emulator.faults.set(API, { status: 503 });
    emulator.requests.reset();

    expect(await setup.identity.getUserGroups('jdoe')).toEqual(groups);
    expect(setup.logger.warnings.join('\n')).toMatch(
      /Serving a stale cache entry because its refresh failed: .*\(entry=groups of jdoe staleForMs=/,
    );
    expect(emulator.requests.count(MEMBERSHIP)).toBe(1);

    // Within the back-off, no new attempt even for a burst of requests.
    await Promise.all(Array.from({ length: 20 }, () => setup.identity.getUserGroups('jdoe')));
    expect(emulator.requests.count(MEMBERSHIP)).toBe(1);
  });

  it('cache stale + token endpoint failing: serves the stale groups', async () => {
    const groups = await setup.identity.getUserGroups('jdoe');
    // Past the API token's lifetime too, so a new token is needed for the refresh.
    clock.advance(60 * MINUTE);
    emulator.faults.set(API_TOKEN, { status: 500 });
    emulator.requests.reset();

    expect(await setup.identity.getUserGroups('jdoe')).toEqual(groups);
    expect(emulator.requests.count(API_TOKEN)).toBe(1);
    expect(emulator.requests.count(MEMBERSHIP)).toBe(0);
    expect(setup.logger.warnings.join('\n')).toMatch(
      /Serving a stale cache entry because its refresh failed: .*API-access token endpoint.*\(entry=groups of jdoe /,
    );
  });

  it('cache stale + token endpoint hanging: serves the stale groups after the timeout', async () => {
    const groups = await setup.identity.getUserGroups('jdoe');
    clock.advance(60 * MINUTE);
    emulator.faults.set(API_TOKEN, { hang: true });
    expect(await setup.identity.getUserGroups('jdoe')).toEqual(groups);
  });

  it('cache miss + API 503: rejects with 503 ERR_UPSTREAM_UNAVAILABLE and Retry-After', async () => {
    emulator.faults.set(MEMBERSHIP, { status: 503 });
    expectUnavailable(await rejectionOf(setup.identity.getUserGroups('jdoe')));
    expectUnavailable(await rejectionOf(setup.identity.isMember('jdoe', 'it-dep')));
  });

  it('cache miss + token endpoint down: 503', async () => {
    emulator.faults.set(API_TOKEN, { status: 502 });
    expectUnavailable(await rejectionOf(setup.identity.getUserGroups('jdoe')));
    expectUnavailable(await rejectionOf(setup.identity.getApiToken()));
  });

  it('recovers right after the outage ends: failures are not cached', async () => {
    emulator.faults.set(MEMBERSHIP, { status: 503 });
    expectUnavailable(await rejectionOf(setup.identity.getUserGroups('jdoe')));
    emulator.faults.clear();
    expect(await setup.identity.getUserGroups('jdoe')).toContain('it-dep');
  });

  it('stale data is refreshed as soon as the API answers again (after the back-off)', async () => {
    await setup.identity.getUserGroups('jdoe');
    clock.advance(31 * MINUTE);
    emulator.faults.set(MEMBERSHIP, { status: 503 });
    await setup.identity.getUserGroups('jdoe');
    emulator.faults.clear();
    emulator.groups.push({ id: 'new-group', members: ['jdoe'] });
    try {
      clock.advance(31_000);
      expect(await setup.identity.getUserGroups('jdoe')).toContain('new-group');
    } finally {
      emulator.groups.pop();
    }
  });

  it('data older than staleTtlMs is not served', async () => {
    const short = makeProvider(emulator, { groupsTtlMs: MINUTE, staleTtlMs: MINUTE, clock });
    await short.identity.getUserGroups('jdoe');
    clock.advance(2 * MINUTE + 1);
    emulator.faults.set(MEMBERSHIP, { status: 503 });
    expectUnavailable(await rejectionOf(short.identity.getUserGroups('jdoe')));
    await short.identity.close();
  });
});

describe('timeouts and refused connections', () => {
  it('a hanging API fails after httpTimeoutMs with 503', async () => {
    await setup.identity.getApiToken();
    emulator.faults.set(API, { hang: true });
    // The deadline of each call is the configured one (a hanging API never answers, so only the
    // deadline can end these calls): lookups 300 ms, searches 600 ms.
    const deadlines = vi.spyOn(AbortSignal, 'timeout');
    expectUnavailable(await rejectionOf(setup.identity.getUserGroups('jdoe')));
    expectUnavailable(await rejectionOf(setup.identity.searchUsers({ lastName: 'Doe' })));
    const error = await rejectionOf(setup.identity.getUser('jdoe'));
    expectUnavailable(error);
    expect(deadlines.mock.calls.map(([ms]) => ms).sort()).toEqual([300, 300, 600]);
    deadlines.mockRestore();
    expect(String((error as Error).cause)).toMatch(/GET \/api\/v1\.0\/Identity\/jdoe/);
  });

  it('searches get searchTimeoutMs per page; lookups that guards wait for get httpTimeoutMs', async () => {
    // Wide margins (a busy CI machine): 300 ms answers, 200 ms for lookups, 10 s for searches.
    const slow = makeProvider(emulator, { httpTimeoutMs: 200, searchTimeoutMs: 10_000 });
    try {
      await slow.identity.getApiToken();
      emulator.faults.set(API, { delayMs: 300 });
      expect((await slow.identity.searchUsers({ lastName: 'Doe' })).users.length).toBeGreaterThan(0);
      expect(await slow.identity.searchGroups('it-dep')).toContain('it-dep');
      expectUnavailable(await rejectionOf(slow.identity.getUserGroups('jdoe')));
      expectUnavailable(await rejectionOf(slow.identity.getGroupMembers('it-dep')));
      expectUnavailable(await rejectionOf(slow.identity.getUser('jdoe')));
    } finally {
      await slow.identity.close();
    }
  });

  it('searchTimeoutMs defaults to 30 s, and never below httpTimeoutMs', () => {
    const options = resolveIdentityConfig({ clientId: 'x', clientSecret: 'y', httpTimeoutMs: 45_000 });
    expect(options.searchTimeoutMs).toBeUndefined(); // resolved by the provider: max(30 s, 45 s)
    expect(() => resolveIdentityConfig({ clientId: 'x', clientSecret: 'y', searchTimeoutMs: -1 })).toThrow(
      /searchTimeoutMs/,
    );
  });

  it('a slow API (delay above the timeout) is an outage; below it, fine', async () => {
    await setup.identity.getApiToken();
    emulator.faults.set(MEMBERSHIP, { delayMs: 600 });
    expectUnavailable(await rejectionOf(setup.identity.getUserGroups('jdoe')));
    emulator.faults.set(MEMBERSHIP, { delayMs: 50 });
    expect(await setup.identity.getUserGroups('jdoe')).toContain('it-dep');
  });

  it('a stopped server (connection refused) is an outage; stale data still served', async () => {
    const groups = await setup.identity.getUserGroups('jdoe');
    await emulator.suspend();
    try {
      expectUnavailable(await rejectionOf(setup.identity.getUserGroups('mmartin')));
      clock.advance(31 * MINUTE);
      expect(await setup.identity.getUserGroups('jdoe')).toEqual(groups);
    } finally {
      await emulator.resume();
    }
    expect(await setup.identity.getUserGroups('mmartin')).toContain('cern-staff');
  });

  it('never logs a token', async () => {
    const token = await setup.identity.getApiToken();
    emulator.faults.set(API, { status: 500 });
    await rejectionOf(setup.identity.getUserGroups('jdoe'));
    emulator.faults.set(API, { status: 401 });
    await rejectionOf(setup.identity.getUserGroups('mmartin'));
    const everything = setup.logger.all.join('\n');
    expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
