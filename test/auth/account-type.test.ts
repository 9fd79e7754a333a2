import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { userFromClaims } from '../../src/auth/user.js';
import type { CernClaims } from '../../src/context.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

const ISS = 'https://auth.cern.ch/auth/realms/cern';
const KINDS = new Set([undefined, 'person', 'guest', 'external', 'service']);

const accountType = (claims: CernClaims): unknown => userFromClaims({ iss: ISS, ...claims })?.accountType;

describe('accountType from CERN claims (mapping table)', () => {
  it.each<[string, CernClaims, string | undefined]>([
    ['CERN person: cern_person_id', { sub: 'jdoe', cern_upn: 'jdoe', cern_person_id: 123456 }, 'person'],
    ['CERN person: person id as a numeric string', { sub: 'jdoe', cern_person_id: '754321' }, 'person'],
    [
      'social account: upn scoped to the provider',
      { sub: '12387234@google', cern_upn: '12387234@google' },
      'external',
    ],
    ['eduGAIN account: upn scoped to the institute', { sub: 'albert.einstein@unibe.ch' }, 'external'],
    [
      'eduGAIN login with "/"',
      { sub: 'edugain.uni-example.it/srossi', cern_upn: 'edugain.uni-example.it/srossi' },
      'external',
    ],
    ['guest: nothing documented tells it apart', { sub: 'guest-anna', cern_upn: 'guest-anna' }, undefined],
    [
      'CERN service/secondary account signed in like a user: not told apart',
      { sub: 'svc-monitoring' },
      undefined,
    ],
    [
      'client credentials: service-account-<azp>',
      { sub: 'f0e1-uuid', preferred_username: 'service-account-my-api', azp: 'my-api' },
      'service',
    ],
    [
      'client credentials: Keycloak lower-cases the username, the client id may not be',
      { sub: 'service-account-myapi', preferred_username: 'service-account-myapi', azp: 'MyApi' },
      'service',
    ],
    [
      'client credentials: client named by client_id (Keycloak mapper)',
      { sub: 'x', preferred_username: 'service-account-job', client_id: 'job' },
      'service',
    ],
    [
      'client credentials: older Keycloak clientId claim',
      { sub: 'x', preferred_username: 'service-account-job', clientId: 'job' },
      'service',
    ],
    [
      "service-account-* of ANOTHER client is not this token's service account",
      { sub: 'service-account-other', preferred_username: 'service-account-other', azp: 'my-api' },
      undefined,
    ],
    [
      'a person id wins over a look-alike username',
      { sub: 'jdoe', cern_person_id: 1, preferred_username: 'service-account-my-api', azp: 'my-api' },
      'person',
    ],
    ['invalid person id (text) is no person id', { sub: 'jdoe', cern_person_id: 'abc' }, undefined],
  ])('%s', (_name, claims, expected) => {
    expect(accountType(claims)).toBe(expected);
  });

  it('is absent (not undefined-valued) on the user when unknown, so JSON answers omit it', () => {
    const user = userFromClaims({ iss: ISS, sub: 'guest-anna' });
    expect(user && Object.hasOwn(user, 'accountType')).toBe(false);
  });

  it('claims inherited through the prototype do not count', () => {
    const proto = { preferred_username: 'service-account-my-api', azp: 'my-api' };
    const claims = Object.assign(Object.create(proto) as CernClaims, { sub: 'jdoe', iss: ISS });
    expect(userFromClaims(claims)?.accountType).toBeUndefined();
  });
});

describe('accountType properties', () => {
  const claimValue = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.constantFrom('service-account-a', 'a', 'A', '1@x', 'x/y', '__proto__'),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
  );
  const claimName = fc.constantFrom(
    'sub',
    'cern_upn',
    'cern_person_id',
    'preferred_username',
    'azp',
    'client_id',
    'clientId',
    ...PROTOTYPE_NAMES,
  );

  it('any claims object: one of the allowed kinds or undefined, never a throw', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(claimName, fc.string()), claimValue), (raw) => {
        // JSON.parse, as token claims arrive: "__proto__" becomes an own key.
        const claims = JSON.parse(JSON.stringify(raw)) as CernClaims;
        expect(KINDS.has(accountType(claims) as string | undefined)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('"person" exactly when the user has a person id', () => {
    fc.assert(
      fc.property(fc.dictionary(claimName, claimValue), (raw) => {
        const claims = JSON.parse(JSON.stringify({ ...raw, sub: 'someone' })) as CernClaims;
        const user = userFromClaims(claims);
        expect(user?.accountType === 'person').toBe(user?.personId !== undefined);
      }),
      { numRuns: 200 },
    );
  });

  it('a login with "@" or "/" and no person id or client credentials is external', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.constantFrom('@', '/'), fc.string(), (a, sep, b) => {
        expect(accountType({ sub: `${a}${sep}${b}` })).toBe('external');
      }),
      { numRuns: 200 },
    );
  });
});
