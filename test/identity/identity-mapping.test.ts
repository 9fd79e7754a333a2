import { describe, expect, it } from 'vitest';
import {
  formatPhone,
  toCernIdentities,
  toCernIdentity,
  toPersonId,
} from '../../src/identity/identity-mapping.js';

describe('identity mapping', () => {
  it('maps AuthZ fields to CernIdentity', () => {
    expect(
      toCernIdentity(
        {
          id: 'uuid',
          upn: 'jdoe',
          displayName: 'John Doe',
          firstName: 'John',
          lastName: 'Doe',
          personId: 123456,
          primaryAccountEmail: 'john.doe@cern.ch',
          instituteName: 'CERN',
          telephone1: '71234',
          type: 'Person',
        },
        '+412276',
      ),
    ).toEqual({
      login: 'jdoe',
      displayName: 'John Doe',
      firstName: 'John',
      lastName: 'Doe',
      personId: 123456,
      email: 'john.doe@cern.ch',
      affiliation: 'CERN',
      phone: '+41227671234',
    });
  });

  it('omits absent, null and empty fields', () => {
    expect(
      toCernIdentity(
        { upn: 'guest1', personId: null, telephone1: '', displayName: '  ', firstName: null },
        '+412276',
      ),
    ).toEqual({ login: 'guest1' });
  });

  it('drops rows without upn', () => {
    expect(toCernIdentity({ displayName: 'Nobody' }, '')).toBeNull();
    expect(toCernIdentity({ upn: '' }, '')).toBeNull();
    expect(toCernIdentity(null, '')).toBeNull();
    expect(
      toCernIdentities([{ upn: 'a' }, { id: 'x' }, { upn: 'A' }, { upn: 'b' }], '').map((u) => u.login),
    ).toEqual(['a', 'b']);
  });

  it('personId: number or numeric string gives a number, anything else nothing', () => {
    expect(toPersonId(123)).toBe(123);
    expect(toPersonId('123456')).toBe(123456);
    expect(toPersonId(' 42 ')).toBe(42);
    expect(toPersonId('abc')).toBeUndefined();
    expect(toPersonId(0)).toBeUndefined();
    expect(toPersonId(-5)).toBeUndefined();
    expect(toPersonId(1.5)).toBeUndefined();
    expect(toPersonId(null)).toBeUndefined();
  });

  it('phone: only 5-digit internal extensions get the prefix', () => {
    expect(formatPhone('71234', '+412276')).toBe('+41227671234');
    expect(formatPhone(' 7 1234 ', '+412276')).toBe('+41227671234');
    expect(formatPhone('+41 22 76 71234', '+412276')).toBe('+41 22 76 71234');
    expect(formatPhone('0041227671234', '+412276')).toBe('0041227671234');
    expect(formatPhone('022 767 1234', '+412276')).toBe('022 767 1234');
    expect(formatPhone('161234', '+412276')).toBe('161234');
    expect(formatPhone('71234', '')).toBe('71234');
    expect(formatPhone('', '+412276')).toBeUndefined();
    expect(formatPhone(71234, '+412276')).toBeUndefined();
  });
});
