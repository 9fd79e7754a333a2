/**
 * Waits `ms` milliseconds. The timer does not keep the process alive; under `vi.useFakeTimers`
 * it is driven by the test. Code that waits takes a `sleep` option defaulting to this one.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, Math.max(0, ms)).unref();
  });
}

export interface SingleFlightOptions<T> {
  /** One attempt (usually an HTTP request). */
  run: () => Promise<T>;
  /** How long a result is reused, from the result. Default: for ever. */
  keepMs?: (value: T) => number;
  /**
   * How long after a failure callers get it again without a new attempt, from the error.
   * Default 0: the next call tries again.
   */
  holdMs?: (error: unknown) => number;
  /**
   * What a failure rejects with, from the error and the milliseconds until the next attempt
   * (for a `Retry-After`). Also used for the caller whose attempt failed. Default: the error.
   */
  failure?: (error: unknown, retryInMs: number) => unknown;
  /** The clock (ms). Default `Date.now()`, read at each call (so fake timers drive it). */
  now?: (() => number) | undefined;
}

/** One value fetched on demand: one attempt in flight, the result kept, failures held a while. */
export interface SingleFlight<T> {
  /**
   * The kept value; else the attempt in flight, shared by every caller; else the held failure
   * while its hold lasts; else a new attempt.
   */
  get(): Promise<T>;
  /** The kept value when there is one, without starting anything. */
  peek(): T | undefined;
  /**
   * Forgets the kept value and any held failure: the next `get()` starts a new attempt. An
   * attempt already in flight completes for its callers, but its result is not kept.
   */
  reset(): void;
}

/**
 * The "one request in flight, retry after a delay" of the library (OpenID discovery, API
 * tokens): concurrent callers share one attempt, a success is kept for `keepMs`, and a failure
 * is answered from memory for `holdMs`, so an outage costs one upstream request per hold.
 */
export function createSingleFlight<T>(options: SingleFlightOptions<T>): SingleFlight<T> {
  const now = options.now ?? (() => Date.now());
  const failure = (error: unknown, retryInMs: number): Error => {
    const answer = options.failure === undefined ? error : options.failure(error, retryInMs);
    return answer instanceof Error ? answer : new Error(String(answer), { cause: answer });
  };
  let kept: { value: T; until: number } | undefined;
  let held: { error: unknown; until: number } | undefined;
  let inFlight: Promise<T> | undefined;
  /** Bumped by reset(), so an attempt started before it does not keep its result. */
  let generation = 0;

  async function attempt(started: number): Promise<T> {
    try {
      const value = await options.run();
      if (started === generation) {
        kept = { value, until: now() + (options.keepMs?.(value) ?? Number.POSITIVE_INFINITY) };
      }
      return value;
    } catch (error) {
      const holdMs = Math.max(0, options.holdMs?.(error) ?? 0);
      if (started === generation) held = { error, until: now() + holdMs };
      throw failure(error, holdMs);
    }
  }

  return {
    get() {
      const at = now();
      if (kept !== undefined && at < kept.until) return Promise.resolve(kept.value);
      if (inFlight !== undefined) return inFlight;
      if (held !== undefined && at < held.until) return Promise.reject(failure(held.error, held.until - at));
      kept = undefined;
      held = undefined;
      const flight = attempt(generation).finally(() => {
        if (inFlight === flight) inFlight = undefined;
      });
      inFlight = flight;
      return flight;
    },
    peek() {
      return kept !== undefined && now() < kept.until ? kept.value : undefined;
    },
    reset() {
      generation++;
      kept = undefined;
      held = undefined;
      inFlight = undefined;
    },
  };
}
