/**
 * Freshness across two instances sharing one Redis (`production-shape`): how long after a
 * back-channel logout received by instance 1, or a changed e-group, instance 2 answers
 * accordingly. The parent polls over HTTP every {@link POLL_MS}; the emulator runs in the parent.
 */
import type { CernSsoEmulator } from '../../src/testing/index.js';
import type { BenchChild } from './child.js';
import type { RedisAppReady } from '../children/redis-app.js';

export const POLL_MS = 5;
const LOGIN = 'jdoe';
const GROUP = 'it-dep';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Status of one signed-in JSON request to `instance`'s route. */
export async function statusOf(instance: BenchChild<RedisAppReady>, cookie: string): Promise<number> {
  const response = await fetch(instance.data.url, {
    headers: { cookie, accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until `instance` answers `want`; ms since `since`. Any status but `from`/`want` fails. */
async function until(
  instance: BenchChild<RedisAppReady>,
  cookie: string,
  from: number,
  want: number,
  since: number,
  limitMs: number,
): Promise<number> {
  for (;;) {
    const status = await statusOf(instance, cookie);
    const at = performance.now();
    if (status === want) return at - since;
    if (status !== from) throw new Error(`expected ${from} then ${want}, got ${status}`);
    if (at - since > limitMs) throw new Error(`still ${from} after ${limitMs} ms`);
    await sleep(POLL_MS);
  }
}

/** Both instances answer 200 for `cookie` (the second one's view warmed by a few requests). */
async function signedInOnBoth(pair: readonly BenchChild<RedisAppReady>[], cookie: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    for (const instance of pair) {
      const status = await statusOf(instance, cookie);
      if (status !== 200)
        throw new Error(`${instance.data.url}: expected 200 before the change, got ${status}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * One back-channel logout: sign in on instance 1, use the session on both, let the emulator end
 * the SSO session (it POSTs the logout token to instance 1's back-channel route), then poll
 * instance 2 until it answers 401. Returns ms from the start of the logout.
 */
export async function logoutDelay(
  emulator: CernSsoEmulator,
  pair: readonly [BenchChild<RedisAppReady>, BenchChild<RedisAppReady>],
): Promise<number> {
  const [first, second] = pair;
  const { cookie } = await emulator.login({ baseUrl: first.data.baseUrl, login: LOGIN });
  await signedInOnBoth(pair, cookie);
  const since = performance.now();
  await emulator.endSsoSessions(LOGIN);
  // Not instance 1 first: a signed-out request there removes the sign-in from the shared session,
  // and instance 2 would see that instead of the logout markers.
  const delay = await until(second, cookie, 200, 401, since, 10_000);
  const onFirst = await statusOf(first, cookie);
  if (onFirst !== 401) throw new Error(`instance 1 answered ${onFirst} after the back-channel logout`);
  return delay;
}

export interface GroupChange {
  /** ms from the change upstream until instance 1 answered 403. */
  first: number;
  /** ms from the change upstream until instance 2 answered 403. */
  second: number;
}

/**
 * Removes jdoe from `it-dep` at the emulator (the AuthZ API answers without it from now on) and
 * polls both instances (alternately, every {@link POLL_MS}) until each answers 403. The change
 * reaches an instance when a cached entry's freshness (`groupsTtlMs`) runs out and the one
 * instance that takes the refresh lock loads it; membership is restored afterwards.
 */
export async function groupChangeDelay(
  emulator: CernSsoEmulator,
  pair: readonly [BenchChild<RedisAppReady>, BenchChild<RedisAppReady>],
  limitMs: number,
): Promise<GroupChange> {
  const [first] = pair;
  const { cookie } = await emulator.login({ baseUrl: first.data.baseUrl, login: LOGIN });
  await signedInOnBoth(pair, cookie);
  const index = emulator.groups.findIndex((group) => group.id === GROUP);
  const original = emulator.groups[index];
  if (original === undefined) throw new Error(`no group ${GROUP} at the emulator`);
  emulator.groups[index] = {
    ...original,
    members: (original.members ?? []).filter((member) => member !== LOGIN),
  };
  const since = performance.now();
  const seen: (number | undefined)[] = [undefined, undefined];
  try {
    while (seen.includes(undefined)) {
      for (const [i, instance] of pair.entries()) {
        if (seen[i] !== undefined) continue;
        const status = await statusOf(instance, cookie);
        if (status === 403) seen[i] = performance.now() - since;
        else if (status !== 200) throw new Error(`instance ${i + 1}: expected 200 or 403, got ${status}`);
      }
      if (performance.now() - since > limitMs) throw new Error(`group change not seen within ${limitMs} ms`);
      await sleep(POLL_MS);
    }
  } finally {
    emulator.groups[index] = original;
  }
  return { first: seen[0] ?? NaN, second: seen[1] ?? NaN };
}
