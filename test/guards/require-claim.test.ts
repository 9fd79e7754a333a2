import { describe, expect, it } from 'vitest';
import { CernSsoError, requireClaim } from 'express-cern-sso';
import { claimAt, claimMatches, claimValues } from '../../src/guards/require-claim.js';

const claims = {
  sub: 'jdoe',
  email_verified: true,
  cern_roles: ['admin', 'user'],
  resource_access: {
    'my-app': { roles: ['reader'] },
    'my.dotted.app': { roles: ['writer'] },
  },
  'https://example.org/claims': { level: 3 },
};

describe('claim paths', () => {
  it('top-level claims and dotted paths (segments with "-")', () => {
    expect(claimAt(claims, 'sub')).toBe('jdoe');
    expect(claimAt(claims, 'resource_access.my-app.roles')).toEqual(['reader']);
    expect(claimAt(claims, 'resource_access.missing.roles')).toBeUndefined();
    expect(claimAt(claims, 'sub.deeper')).toBeUndefined();
    expect(claimAt(undefined, 'sub')).toBeUndefined();
  });

  it('keys that contain dots resolve too', () => {
    expect(claimAt(claims, 'resource_access.my.dotted.app.roles')).toEqual(['writer']);
    expect(claimAt(claims, 'https://example.org/claims.level')).toBe(3);
  });

  it('values: lists or scalars; strings, numbers and booleans', () => {
    expect(claimValues(['a', 1, true, null, { x: 1 }])).toEqual(['a', '1', 'true']);
    expect(claimValues('a')).toEqual(['a']);
    expect(claimValues(undefined)).toEqual([]);
  });

  it('matching is exact and case-sensitive', () => {
    expect(claimMatches(['admin', 'user'], ['admin'], 'any')).toBe(true);
    expect(claimMatches(['admin', 'user'], ['Admin'], 'any')).toBe(false);
    expect(claimMatches(['admin', 'user'], ['admin', 'user'], 'all')).toBe(true);
    expect(claimMatches(['admin'], ['admin', 'user'], 'all')).toBe(false);
    expect(claimMatches(['a', 'b'], ['a', 'b', 'c'], 2)).toBe(true);
  });

  it('requireClaim() validates its arguments at construction', () => {
    expect(() => requireClaim('', 'x')).toThrow(CernSsoError);
    expect(() => requireClaim('a..b', 'x')).toThrow(/dotted path/);
    expect(() => requireClaim('cern_roles', [])).toThrow(/at least one value/);
    expect(() => requireClaim('cern_roles', 'admin')).not.toThrow();
  });
});
