import { describe, expect, it } from 'vitest';
import { CernSsoError } from 'express-cern-sso';
import { resolveSsoConfig } from '../../src/config.js';

const valid = { clientId: 'my-app', clientSecret: 's3cret', baseUrl: 'https://myapp.web.cern.ch' };

function problems(options: Record<string, unknown>): readonly string[] {
  try {
    resolveSsoConfig({ ...valid, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    return (error as CernSsoError).details;
  }
  return [];
}

describe('back-channel logout options', () => {
  it("default to a 2 s check bound that fails closed ('deny')", () => {
    const config = resolveSsoConfig(valid);
    expect(config.logoutCheckTimeoutMs).toBe(2000);
    expect(config.logoutCheckFailure).toBe('deny');
  });

  it('take a positive whole number of ms up to a minute, and deny or allow', () => {
    const config = resolveSsoConfig({ ...valid, logoutCheckTimeoutMs: 50, logoutCheckFailure: 'allow' });
    expect(config.logoutCheckTimeoutMs).toBe(50);
    expect(config.logoutCheckFailure).toBe('allow');
    expect(resolveSsoConfig({ ...valid, logoutCheckTimeoutMs: 60_000 }).logoutCheckTimeoutMs).toBe(60_000);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a zero timeout', { logoutCheckTimeoutMs: 0 }, /^logoutCheckTimeoutMs: /],
    ['a fractional timeout', { logoutCheckTimeoutMs: 1.5 }, /^logoutCheckTimeoutMs: /],
    [
      'a timeout over a minute',
      { logoutCheckTimeoutMs: 60_001 },
      /^logoutCheckTimeoutMs: must be at most 60000/,
    ],
    ['a timeout as a string', { logoutCheckTimeoutMs: '2000' }, /^logoutCheckTimeoutMs: /],
    ['another failure mode', { logoutCheckFailure: 'ignore' }, /^logoutCheckFailure: /],
    ['a prototype name as failure mode', { logoutCheckFailure: '__proto__' }, /^logoutCheckFailure: /],
  ])('refuse %s', (_name, options, problem) => {
    expect(problems(options)).toEqual([expect.stringMatching(problem)]);
  });
});
