/**
 * The event builder and the path of events, for anything a client may send: the query string
 * (where codes, states and tokens travel) never reaches an event, and an event has only the six
 * documented fields whatever the emitter is handed. A listener's failure never escapes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEventEmitter, eventPath, type CernSsoEvent } from '../src/events.js';
import { silentLogger } from '../src/logger.js';

const FIELDS = new Set(['type', 'at', 'login', 'issuer', 'path', 'reason']);
const optional = fc.option(fc.string(), { nil: undefined });

describe('events', () => {
  it('eventPath: the path before the first "?", never the query, at most 1024 characters', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (path, query) => {
        const url = `/${path.replaceAll('?', '')}?${query}`;
        const result = eventPath({ originalUrl: url, url });
        expect(result).toBe(url.slice(0, url.indexOf('?')).slice(0, 1024));
        expect(result.includes('?')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('an event holds only the documented fields, login and issuer together, `at` from the clock', () => {
    fc.assert(
      fc.property(
        fc.record({
          login: optional,
          issuer: optional,
          path: optional,
          reason: optional,
          extra: fc.string(),
        }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (fields, now) => {
          const seen: CernSsoEvent[] = [];
          const emit = createEventEmitter(
            (event) => void seen.push(event),
            silentLogger,
            () => now,
          );
          emit('access_denied', fields);
          const [event] = seen;
          expect(Object.keys(event ?? {}).every((key) => FIELDS.has(key))).toBe(true);
          expect(event?.at).toBe(new Date(now).toISOString());
          expect(event?.login === undefined).toBe(event?.issuer === undefined);
          expect(Object.isFrozen(event)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a listener that throws anything is logged with the event type; the emitter never throws', () => {
    fc.assert(
      fc.property(fc.anything(), (thrown) => {
        const errors: unknown[][] = [];
        const logger = { ...silentLogger, error: (...args: unknown[]) => void errors.push(args) };
        const emit = createEventEmitter(
          () => {
            throw thrown;
          },
          logger,
          () => 0,
        );
        expect(() => {
          emit('login');
        }).not.toThrow();
        expect(errors).toHaveLength(1);
        expect(errors[0]?.[0]).toMatchObject({ event: 'login' });
      }),
      { numRuns: 100 },
    );
  });
});
