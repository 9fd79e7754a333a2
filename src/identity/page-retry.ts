import { isTransientStatus, retryAfterSeconds } from '../error-mapper.js';

/** How a failed page of a listing is retried. */
export interface PageRetryPolicy {
  /** Retries after the first attempt. Default 3. */
  retries: number;
  /** First backoff, doubled at each retry (full jitter). Default 500 ms. */
  baseDelayMs: number;
  /** Longest wait, also the bound on an upstream `Retry-After`. Default 30 s. */
  maxDelayMs: number;
  /** Waits; tests pass a fake or use fake timers. */
  sleep: (ms: number) => Promise<void>;
  /** 0 <= x < 1, for jitter. */
  random: () => number;
}

/** What one attempt at a page gave: an HTTP answer, or no answer at all (network, timeout). */
export type PageAttempt<R> =
  | { kind: 'answer'; status: number; retryAfter: unknown; response: R }
  | { kind: 'no-answer'; error: unknown };

/**
 * `Retry-After` in ms when it is a number of seconds (an HTTP date needs a trusted clock:
 * ignored); bounded to `maxMs`. `undefined` when absent or unusable.
 */
export function retryAfterMs(header: unknown, maxMs: number): number | undefined {
  const seconds = retryAfterSeconds(header);
  return seconds === undefined ? undefined : Math.min(maxMs, seconds * 1000);
}

/** Exponential backoff with full jitter: a random wait in [0, min(max, base * 2^retry)). */
export function backoffMs(
  retry: number,
  policy: Pick<PageRetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(policy.random() * ceiling);
}

/**
 * Runs `attempt` until it gives a final answer: an outage (no answer, 5xx, 429, 408) is retried
 * up to `policy.retries` times, waiting the upstream `Retry-After` when it sent one, else a
 * jittered backoff. Any other answer (2xx, 4xx) is returned at once. After the last retry the
 * last outcome is returned (or its error rethrown), for the caller to map.
 */
export async function withPageRetry<R>(
  attempt: () => Promise<PageAttempt<R>>,
  policy: PageRetryPolicy,
): Promise<R> {
  for (let retry = 0; ; retry++) {
    const outcome = await attempt();
    const transient = outcome.kind === 'no-answer' || isTransientStatus(outcome.status);
    if (!transient || retry >= policy.retries) {
      if (outcome.kind === 'no-answer') throw outcome.error;
      return outcome.response;
    }
    const told = outcome.kind === 'answer' ? retryAfterMs(outcome.retryAfter, policy.maxDelayMs) : undefined;
    await policy.sleep(told ?? backoffMs(retry, policy));
  }
}
