import { describe, expect, it } from 'vitest';
import { CernSsoError, requireEntitlement } from 'express-cern-sso';
import {
  entitlementSatisfies,
  entitlementsMatch,
  parseEntitlement,
  type GroupEntitlement,
} from '../../src/guards/require-entitlement.js';

function parsed(value: string): GroupEntitlement {
  const entitlement = parseEntitlement(value);
  if (!entitlement) throw new Error(`does not parse: ${value}`);
  return entitlement;
}

const satisfies = (held: string, required: string): boolean =>
  entitlementSatisfies(parsed(held), parsed(required));

describe('AARC-G002 entitlement parser', () => {
  it('parses namespace, group path, role and authority', () => {
    expect(parseEntitlement('urn:geant:cern.ch:group:it-dep:role=member#cern.ch')).toEqual({
      namespace: 'urn:geant:cern.ch',
      path: ['it-dep'],
      role: 'member',
      authority: 'cern.ch',
    });
    expect(parseEntitlement('urn:mace:egi.eu:aai:group:vo.example.org:sub1:sub2#aai.egi.eu')).toEqual({
      namespace: 'urn:mace:egi.eu:aai',
      path: ['vo.example.org', 'sub1', 'sub2'],
      role: undefined,
      authority: 'aai.egi.eu',
    });
  });

  it('the authority is optional (AARC-G069)', () => {
    expect(parseEntitlement('urn:geant:cern.ch:group:it-dep')?.authority).toBeUndefined();
  });

  it('normalises case where the guideline allows it, keeps it elsewhere', () => {
    expect(parseEntitlement('URN:GEANT:CERN.CH:group:IT-Dep:role=Manager#CERN.CH')).toEqual({
      namespace: 'urn:geant:cern.ch',
      path: ['IT-Dep'],
      role: 'Manager',
      authority: 'cern.ch',
    });
    expect(parseEntitlement('urn:geant:cern.ch:group:a%2fb')?.path).toEqual(['a%2Fb']);
  });

  it('rejects what is not a group entitlement', () => {
    for (const value of [
      '',
      'it-dep',
      'urn:geant:cern.ch',
      'urn:geant:cern.ch:group',
      'urn:geant:cern.ch:group:',
      'urn:geant:group:it-dep',
      'urn::cern.ch:group:it-dep',
      'urn:geant:cern.ch:group:it-dep:role=',
      'urn:geant:cern.ch:group:role=member',
      'urn:geant:cern.ch:group:it-dep:role=a:sub',
      'urn:geant:cern.ch:group:it-dep::sub',
      'urn:geant:cern.ch:group:it-dep#',
      'urn:geant:cern.ch:group:it-dep#a#b',
      'urn:geant:cern.ch:group:it dep',
      'http://example.org:group:x',
    ]) {
      expect(parseEntitlement(value), value).toBeUndefined();
    }
  });
});

describe('AARC-G002 entitlement matching', () => {
  const required = 'urn:geant:cern.ch:group:it-dep#cern.ch';

  it('a requirement without role is met by any role in that group', () => {
    expect(satisfies('urn:geant:cern.ch:group:it-dep:role=member#cern.ch', required)).toBe(true);
    expect(satisfies('urn:geant:cern.ch:group:it-dep:role=manager#cern.ch', required)).toBe(true);
    expect(satisfies('urn:geant:cern.ch:group:it-dep#cern.ch', required)).toBe(true);
  });

  it('a required role must be held exactly, in exactly that group', () => {
    const manager = 'urn:geant:cern.ch:group:it-dep:role=manager#cern.ch';
    expect(satisfies(manager, manager)).toBe(true);
    expect(satisfies('urn:geant:cern.ch:group:it-dep:role=member#cern.ch', manager)).toBe(false);
    expect(satisfies('urn:geant:cern.ch:group:it-dep#cern.ch', manager)).toBe(false);
    expect(satisfies('urn:geant:cern.ch:group:it-dep:cd:role=manager#cern.ch', manager)).toBe(false);
  });

  it('a sub-group does not imply its parent, nor the parent its sub-groups', () => {
    expect(satisfies('urn:geant:cern.ch:group:it-dep:cd:role=member#cern.ch', required)).toBe(false);
    expect(
      satisfies('urn:geant:cern.ch:group:it-dep:role=member#cern.ch', 'urn:geant:cern.ch:group:it-dep:cd'),
    ).toBe(false);
    expect(satisfies('urn:geant:cern.ch:group:it-dep:cd#cern.ch', 'urn:geant:cern.ch:group:it-dep:cd')).toBe(
      true,
    );
  });

  it('namespaces compare case-insensitively, group and role names case-sensitively', () => {
    expect(satisfies('URN:GEANT:cern.ch:group:it-dep#cern.ch', required)).toBe(true);
    expect(satisfies('urn:geant:cern.ch:group:IT-DEP#cern.ch', required)).toBe(false);
    expect(
      satisfies('urn:geant:cern.ch:group:it-dep:role=Member', 'urn:geant:cern.ch:group:it-dep:role=member'),
    ).toBe(false);
    expect(satisfies('urn:geant:other.org:group:it-dep#cern.ch', required)).toBe(false);
  });

  it('the authority only matters when the requirement names one', () => {
    expect(satisfies('urn:geant:cern.ch:group:it-dep#other.org', 'urn:geant:cern.ch:group:it-dep')).toBe(
      true,
    );
    expect(satisfies('urn:geant:cern.ch:group:it-dep', 'urn:geant:cern.ch:group:it-dep')).toBe(true);
    expect(satisfies('urn:geant:cern.ch:group:it-dep#other.org', required)).toBe(false);
    expect(satisfies('urn:geant:cern.ch:group:it-dep', required)).toBe(false);
    expect(satisfies('urn:geant:cern.ch:group:it-dep#CERN.CH', required)).toBe(true);
  });

  it("match: 'any', 'all' or a count", () => {
    const held = [
      parsed('urn:geant:cern.ch:group:a:role=member#cern.ch'),
      parsed('urn:geant:cern.ch:group:b:role=member#cern.ch'),
    ];
    const needs = ['a', 'b', 'c'].map((group) => parsed(`urn:geant:cern.ch:group:${group}`));
    expect(entitlementsMatch(held, needs, 'any')).toBe(true);
    expect(entitlementsMatch(held, needs, 'all')).toBe(false);
    expect(entitlementsMatch(held, needs, 2)).toBe(true);
    expect(entitlementsMatch(held, needs, 3)).toBe(false);
    expect(entitlementsMatch([], needs, 'any')).toBe(false);
  });

  it('requireEntitlement() refuses an invalid requirement at construction', () => {
    expect(() => requireEntitlement('it-dep')).toThrow(CernSsoError);
    expect(() => requireEntitlement([])).toThrow(/at least one value/);
    expect(() => requireEntitlement('urn:geant:cern.ch:group:it-dep', { match: 2 })).toThrow(/match/);
    expect(() =>
      requireEntitlement('urn:geant:cern.ch:group:it-dep', { claim: 'entitlements' }),
    ).not.toThrow();
  });
});
