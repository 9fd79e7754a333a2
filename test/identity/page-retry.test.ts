import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, retryAfterMs, withPageRetry, type PageAttempt } from '../../src/identity/page-retry.js';
import { sleep } from '../../src/single-flight.js';

const policy = { retries: 3, baseDelayMs: 500, maxDelayMs: 30_000, sleep, random: () => 0.999 };

const answer = (status: number, retryAfter?: string): PageAttempt<number> => ({
  kind: 'answer',
  status,
  retryAfter,
  response: status,
});

/** An attempt function answering `outcomes` in turn, counting calls. */
function scripted(outcomes: PageAttempt<number>[]) {
  let calls = 0;
  const attempt = () => Promise.resolve(outcomes[Math.min(calls++, outcomes.length - 1)]!);
  return { attempt, calls: () => calls };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('withPageRetry (fake timers)', () => {
  it('retries a 503 after an exponential, jittered backoff and returns the later 200', async () => {
    const script = scripted([answer(503), answer(502), answer(200)]);
    let result: number | undefined;
    void withPageRetry(script.attempt, policy).then((value) => (result = value));
    await vi.advanceTimersByTimeAsync(0);
    expect(script.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(498); // first wait: just under 500 ms (random 0.999)
    expect(script.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(script.calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(997); // second wait: just under 1000 ms
    expect(script.calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(2);
    expect(script.calls()).toBe(3);
    expect(result).toBe(200);
  });

  it('waits the Retry-After the API sent, bounded by maxDelayMs', async () => {
    const told = scripted([answer(429, '7'), answer(200)]);
    const first = withPageRetry(told.attempt, policy);
    await vi.advanceTimersByTimeAsync(6_999);
    expect(told.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await first).toBe(200);

    const huge = scripted([answer(503, '3600'), answer(200)]);
    const second = withPageRetry(huge.attempt, policy);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(huge.calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await second).toBe(200);
  });

  it('gives up after 3 retries with the last answer; a 4xx is returned at once', async () => {
    const down = scripted([answer(503)]);
    const result = withPageRetry(down.attempt, policy);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await result).toBe(503);
    expect(down.calls()).toBe(4);

    const bad = scripted([answer(400), answer(200)]);
    expect(await withPageRetry(bad.attempt, policy)).toBe(400);
    expect(bad.calls()).toBe(1);
  });

  it('retries a request that got no answer, then rethrows its error', async () => {
    const error = new Error('connection refused');
    const script = scripted([{ kind: 'no-answer', error }]);
    const result = withPageRetry(script.attempt, policy).catch((caught: unknown) => caught);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await result).toBe(error);
    expect(script.calls()).toBe(4);
  });
});

describe('backoff and Retry-After parsing', () => {
  it('full jitter below base * 2^retry, capped', () => {
    expect(backoffMs(0, { baseDelayMs: 500, maxDelayMs: 30_000, random: () => 0.5 })).toBe(250);
    expect(backoffMs(2, { baseDelayMs: 500, maxDelayMs: 30_000, random: () => 0.5 })).toBe(1000);
    expect(backoffMs(20, { baseDelayMs: 500, maxDelayMs: 30_000, random: () => 0.5 })).toBe(15_000);
  });

  it('reads seconds only', () => {
    expect(retryAfterMs('3', 30_000)).toBe(3000);
    expect(retryAfterMs('0', 30_000)).toBe(0);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT', 30_000)).toBeUndefined();
    expect(retryAfterMs(undefined, 30_000)).toBeUndefined();
    expect(retryAfterMs('-1', 30_000)).toBeUndefined();
  });
});
