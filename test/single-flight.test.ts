import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSingleFlight, sleep } from '../src/single-flight.js';

/** A controllable upstream: each call waits until the test settles it. */
function upstream<T>() {
  const calls: { resolve: (value: T) => void; reject: (error: Error) => void }[] = [];
  const run = vi.fn(
    () =>
      new Promise<T>((resolve, reject) => {
        calls.push({ resolve, reject });
      }),
  );
  return { run, calls };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('createSingleFlight', () => {
  it('shares one attempt between concurrent callers', async () => {
    const { run, calls } = upstream<string>();
    const flight = createSingleFlight({ run });
    const first = flight.get();
    const second = flight.get();
    expect(run).toHaveBeenCalledTimes(1);
    calls[0]?.resolve('config');
    await expect(Promise.all([first, second])).resolves.toEqual(['config', 'config']);
  });

  it('keeps a success for ever by default, and for keepMs when given', async () => {
    const forever = createSingleFlight({ run: vi.fn(() => Promise.resolve(1)) });
    await forever.get();
    vi.advanceTimersByTime(365 * 24 * 3600_000);
    await forever.get();
    expect(forever.peek()).toBe(1);

    const run = vi.fn(() => Promise.resolve({ token: 'a' }));
    const token = createSingleFlight({ run, keepMs: () => 60_000, now: () => Date.now() });
    await token.get();
    vi.advanceTimersByTime(59_999);
    await token.get();
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(token.peek()).toBeUndefined();
    await token.get();
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('holds a failure for holdMs without a new attempt, then tries again', async () => {
    let clock = 0;
    const { run, calls } = upstream<string>();
    const failure = vi.fn(
      (error: unknown, retryInMs: number) => new Error(`${String(error)} / ${retryInMs}`),
    );
    const flight = createSingleFlight({ run, holdMs: () => 2000, failure, now: () => clock });

    const first = flight.get();
    calls[0]?.reject(new Error('down'));
    await expect(first).rejects.toThrow('Error: down / 2000');

    clock = 500;
    await expect(flight.get()).rejects.toThrow('Error: down / 1500');
    clock = 1999;
    await expect(flight.get()).rejects.toThrow('Error: down / 1');
    expect(run).toHaveBeenCalledTimes(1);

    clock = 2000;
    const retried = flight.get();
    expect(run).toHaveBeenCalledTimes(2);
    calls[1]?.resolve('back');
    await expect(retried).resolves.toBe('back');
    clock = 10_000;
    await expect(flight.get()).resolves.toBe('back');
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('holds each failure for as long as holdMs says for that error', async () => {
    let clock = 0;
    const run = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new Error('misconfigured'))
      .mockRejectedValueOnce(new Error('outage'))
      .mockResolvedValue('ok');
    const holdMs = (error: unknown): number => ((error as Error).message === 'misconfigured' ? 30_000 : 2000);
    const flight = createSingleFlight({ run, holdMs, now: () => clock });

    await expect(flight.get()).rejects.toThrow('misconfigured');
    clock = 29_999;
    await expect(flight.get()).rejects.toThrow('misconfigured');
    clock = 30_000;
    await expect(flight.get()).rejects.toThrow('outage');
    clock = 32_000;
    await expect(flight.get()).resolves.toBe('ok');
    expect(run).toHaveBeenCalledTimes(3);
  });

  it('without holdMs, the next call after a failure tries again', async () => {
    const run = vi.fn<() => Promise<number>>().mockRejectedValueOnce(new Error('once')).mockResolvedValue(2);
    const flight = createSingleFlight({ run });
    await expect(flight.get()).rejects.toThrow('once');
    await expect(flight.get()).resolves.toBe(2);
  });

  it('reset() forgets the kept value; an attempt started before it is not kept', async () => {
    const { run, calls } = upstream<string>();
    const flight = createSingleFlight({ run });
    const old = flight.get();
    flight.reset();
    const fresh = flight.get();
    expect(run).toHaveBeenCalledTimes(2);
    calls[0]?.resolve('old');
    calls[1]?.resolve('new');
    await expect(old).resolves.toBe('old');
    await expect(fresh).resolves.toBe('new');
    expect(flight.peek()).toBe('new');
    flight.reset();
    expect(flight.peek()).toBeUndefined();
  });

  it('wraps a non-Error rejection into an Error', async () => {
    const flight = createSingleFlight({ run: () => Promise.reject(new Error('x')), failure: () => 'plain' });
    await expect(flight.get()).rejects.toThrow('plain');
  });
});

describe('sleep', () => {
  it('resolves after the given time, driven by fake timers', async () => {
    let done = false;
    const waiting = sleep(5000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(done).toBe(true);
  });
});
