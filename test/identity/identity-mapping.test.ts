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
      id: 'uuid',
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

  // Flask-Multipass-CERN's `_fix_phone`: `if not phone or phone.startswith('+'): keep; else prefix + phone`.
  it.each([
    ['71234', '+412276', '+41227671234'],
    ['61122', '+41227', '+4122761122'],
    [' 71234 ', '+412276', '+41227671234'],
    ['7 1234', '+412276', '+4122767 1234'],
    ['161234', '+412276', '+412276161234'],
    ['0041227671234', '+412276', '+4122760041227671234'],
    ['+41 22 76 71234', '+412276', '+41 22 76 71234'],
    ['+33123456789', '+412276', '+33123456789'],
    ['71234', '', '71234'],
    ['', '+412276', undefined],
    ['   ', '+412276', undefined],
    [71234, '+412276', undefined],
    [null, '+412276', undefined],
  ])('phone rule (as Flask-Multipass-CERN): %j with prefix %j gives %j', (raw, prefix, expected) => {
    expect(formatPhone(raw, prefix)).toBe(expected);
  });
});
