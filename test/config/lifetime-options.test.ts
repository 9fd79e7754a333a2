import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cernSso, CernSsoError } from 'express-cern-sso';
import { resolveSsoConfig } from '../../src/config.js';
import { seenInterval } from '../../src/auth/session-lifetime.js';

const valid = { clientId: 'my-app', clientSecret: 's3cret', baseUrl: 'https://myapp.web.cern.ch' };

function problems(options: Record<string, unknown>): readonly string[] {
  try {
    resolveSsoConfig({ ...valid, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    expect((error as CernSsoError).code).toBe('ERR_CONFIG');
    return (error as CernSsoError).details;
  }
  return [];
}

describe('session lifetime options', () => {
  it('default to 12 h absolute, no idle limit, claims refreshed after 30 min', () => {
    const config = resolveSsoConfig(valid);
    expect(config.absoluteTimeoutMs).toBe(12 * 3600_000);
    expect(config.idleTimeoutMs).toBeUndefined();
    expect(config.claimsTtlMs).toBe(30 * 60_000);
  });

  it('take positive whole numbers of ms, idle at most the absolute timeout', () => {
    const config = resolveSsoConfig({
      ...valid,
      absoluteTimeoutMs: 3600_000,
      idleTimeoutMs: 3600_000,
      claimsTtlMs: 1,
    });
    expect(config).toMatchObject({ absoluteTimeoutMs: 3600_000, idleTimeoutMs: 3600_000, claimsTtlMs: 1 });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a zero absolute timeout', { absoluteTimeoutMs: 0 }, /^absoluteTimeoutMs: /],
    ['a negative idle timeout', { idleTimeoutMs: -1 }, /^idleTimeoutMs: /],
    ['a fractional claims TTL', { claimsTtlMs: 1.5 }, /^claimsTtlMs: /],
    ['a claims TTL as a string', { claimsTtlMs: '60000' }, /^claimsTtlMs: /],
    ['an infinite absolute timeout', { absoluteTimeoutMs: Infinity }, /^absoluteTimeoutMs: /],
    [
      'an idle timeout longer than the absolute one',
      { absoluteTimeoutMs: 60_000, idleTimeoutMs: 60_001 },
      /^idleTimeoutMs: must not exceed absoluteTimeoutMs \(60000\)$/,
    ],
    [
      'an idle timeout longer than the default absolute one',
      { idleTimeoutMs: 13 * 3600_000 },
      /^idleTimeoutMs: must not exceed absoluteTimeoutMs \(43200000\)$/,
    ],
  ])('refuse %s (ERR_CONFIG naming the option)', (_name, options, problem) => {
    expect(problems(options)).toEqual([expect.stringMatching(problem)]);
  });

  it('cernSso() throws the same ERR_CONFIG', () => {
    expect(() => cernSso({ ...valid, idleTimeoutMs: 0 })).toThrow(/idleTimeoutMs/);
  });
});

describe('how often the last request is recorded (idleTimeoutMs)', () => {
  it('at most once a minute, and at most a tenth of the idle limit late', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 * 3600_000 }), (idle) => {
        const interval = seenInterval(idle);
        expect(interval).toBeLessThanOrEqual(60_000);
        expect(interval).toBeLessThanOrEqual(idle / 10);
        expect(interval).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 200 },
    );
    expect(seenInterval(30 * 60_000)).toBe(60_000);
    expect(seenInterval(5 * 60_000)).toBe(30_000);
  });
});
