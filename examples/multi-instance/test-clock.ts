/**
 * FOR TESTS ONLY. A clock for `cernSso()` that tests can move forward in an instance that runs as
 * a separate process (where `vi.useFakeTimers()` cannot reach): real time plus an offset, and a
 * route that adds to the offset. `instance.ts` mounts it only when the environment variable
 * `MULTI_INSTANCE_TEST_CLOCK=1` is set; never set it in a deployment (anyone could move the
 * clock and expire every session's tokens).
 */
import type { RequestHandler } from 'express';
import type { Clock } from 'express-cern-sso';

/** The environment variable that mounts the route. */
export const TEST_CLOCK_ENV = 'MULTI_INSTANCE_TEST_CLOCK';
/** The route's path (`POST`, `?ms=<milliseconds to move forward>`). */
export const TEST_CLOCK_PATH = '/__test/clock/advance';
/** Largest single move: a day. */
const MAX_ADVANCE_MS = 24 * 3600_000;

export interface TestClock {
  clock: Clock;
  /** `POST ?ms=N`: moves the clock N ms forward (an integer 0 to a day); answers the total offset. */
  advance: RequestHandler;
}

export function testClock(): TestClock {
  let offsetMs = 0;
  return {
    // Date.now() read at each call, so the clock keeps running between moves.
    clock: { now: () => Date.now() + offsetMs },
    advance: (req, res) => {
      const { ms } = req.query;
      const value = typeof ms === 'string' && /^\d{1,9}$/.test(ms) ? Number(ms) : NaN;
      if (!(value <= MAX_ADVANCE_MS)) {
        res
          .status(400)
          .json({ error: 'invalid_request', error_description: 'ms: an integer, 0 to 86400000' });
        return;
      }
      offsetMs += value;
      res.json({ offsetMs });
    },
  };
}
