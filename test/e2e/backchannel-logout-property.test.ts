/**
 * Property-based tests of the back-channel logout endpoint, through real HTTP: arbitrary bodies
 * and arbitrary claim sets in tokens signed with the realm key never give a 500, and a logout is
 * recorded (200, marker in the session store) exactly when the token is valid by the rules of
 * Back-Channel Logout 1.0 (2.4, 2.6) and not a replay.
 */
import { randomUUID } from 'node:crypto';
import session from 'express-session';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { PROTOTYPE_NAMES as OBJECT_PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const CLIENT = 'bcl-property-app';
const TOLERANCE_SEC = 30;
const MAX_AGE_SEC = 300;
const PROTOTYPE_NAMES = [...OBJECT_PROTOTYPE_NAMES, 'prototype'];

let emulator: CernSsoEmulator;
let app: TestApp;
let store: session.MemoryStore;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  store = new session.MemoryStore();
  app = await startTestApp(emulator, { clientId: CLIENT, sessionStore: store });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

/** Every back-channel logout entry of the session store (markers and used token ids), by id. */
function logoutEntries(): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) {
        reject(error as Error);
        return;
      }
      const entries = new Map<string, string>();
      for (const [id, value] of Object.entries(all ?? {})) {
        if (id.startsWith('cern-sso.logout.')) entries.set(id, JSON.stringify(value));
      }
      resolve(entries);
    });
  });
}

const sameEntries = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([id, value]) => b.get(id) === value);

async function post(body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${app.baseUrl}/oidc/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** An answer that is 200, or 400 `invalid_request` JSON with a reason and no token or stack in it. */
function expectWellFormed(answer: { status: number; text: string }, secrets: readonly string[]): void {
  expect([200, 400]).toContain(answer.status);
  if (answer.status === 400) {
    const body = JSON.parse(answer.text) as Record<string, unknown>;
    expect(body.error).toBe('invalid_request');
    expect(typeof body.error_description).toBe('string');
    expect(answer.text).not.toMatch(/ at .*\.[jt]s|Error:/);
    for (const secret of secrets) if (secret.length > 20) expect(answer.text).not.toContain(secret);
  }
}

const awkwardText = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES, '', ' ', 'null', '[]', '{}', 'logout_token'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\r', '\n', '\u202e', '%', '&', '=', '+'), maxLength: 20 }),
  fc.nat({ max: 6000 }).map((n) => 'x'.repeat(n)),
);

/** A value for a claim: any JSON, prototype names, unicode, control characters, huge strings. */
const anyClaimValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  awkwardText,
  fc.constantFrom(...PROTOTYPE_NAMES).map((name) => ({ [name]: {} })),
  fc.dictionary(fc.constantFrom(...PROTOTYPE_NAMES, EVENT), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

describe('arbitrary request bodies', () => {
  it('never a 500, never a recorded logout unless exactly one valid logout_token is sent', async () => {
    const VALID = Symbol('a fresh valid logout token');
    const field = fc.tuple(
      fc.oneof(fc.constant('logout_token'), awkwardText),
      fc.oneof({ weight: 4, arbitrary: awkwardText }, { weight: 1, arbitrary: fc.constant(VALID) }),
    );
    const body = fc.oneof(
      fc.array(field, { maxLength: 6 }).map((fields) => ({ fields, raw: undefined })),
      awkwardText.map((raw) => ({ fields: [] as [string, string | typeof VALID][], raw })),
    );
    await fc.assert(
      fc.asyncProperty(body, async ({ fields, raw }) => {
        const secrets: string[] = [];
        const form = new URLSearchParams();
        for (const [name, value] of fields) {
          if (value === VALID) {
            const token = await emulator.issueAccessToken('jdoe', {
              clientId: CLIENT,
              audience: CLIENT,
              expiresInSec: 120,
              claims: { typ: 'Logout', sid: randomUUID(), events: { [EVENT]: {} }, scope: undefined },
            });
            secrets.push(token);
            form.append(name, token);
          } else {
            form.append(name, value);
          }
        }
        const logoutTokens = fields.filter(([name]) => name === 'logout_token');
        const valid = raw === undefined && logoutTokens.length === 1 && logoutTokens[0]?.[1] === VALID;
        const before = await logoutEntries();
        const answer = await post(raw ?? form.toString());
        expectWellFormed(answer, secrets);
        expect(answer.status).toBe(valid ? 200 : 400);
        if (!valid) expect(sameEntries(before, await logoutEntries())).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

/** What to do with one claim of the reference token. */
type Mutation =
  | { kind: 'keep' }
  | { kind: 'delete' }
  | { kind: 'value'; value: unknown }
  /** Time claims: now + seconds, at the time of the request. */
  | { kind: 'offset'; seconds: number };

const keep: Mutation = { kind: 'keep' };
const mutation = (...interesting: fc.Arbitrary<Mutation>[]): fc.Arbitrary<Mutation> =>
  fc.oneof(
    { weight: 14, arbitrary: fc.constant(keep) },
    { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'delete' }) },
    { weight: 1, arbitrary: anyClaimValue.map((value): Mutation => ({ kind: 'value', value })) },
    ...interesting.map((arbitrary) => ({ weight: 2, arbitrary })),
  );
const value = (...values: unknown[]) =>
  fc.constantFrom(...values.map((v): Mutation => ({ kind: 'value', value: v })));
const offset = (...seconds: number[]) =>
  fc.constantFrom(...seconds.map((s): Mutation => ({ kind: 'offset', seconds: s })));

/** Claims that the checks look at, with values around their rules. */
const claimMutations = fc.record({
  iss: mutation(value('https://auth.cern.ch/auth/realms/cern', 'x'.repeat(10))),
  aud: mutation(
    value('another-app', [CLIENT, 'another-app'], ['another-app'], [CLIENT, 7], CLIENT.toUpperCase()),
  ),
  iat: mutation(offset(-10, -1000, 1000, -(MAX_AGE_SEC + TOLERANCE_SEC + 60)), value('1', null)),
  exp: mutation(offset(120, -100, 3600), value('soon')),
  nbf: mutation(offset(-10, 1000), value([])),
  events: mutation(
    value({ [EVENT]: { extra: 1 } }, { [EVENT]: [] }, { [EVENT]: null }, { other: {} }, [EVENT], EVENT),
  ),
  nonce: mutation(value('n-0S6')),
  sid: mutation(value('', 'another-sid', 42)),
  sub: mutation(value('', 'mmartin', 'ana/ŝ:1', ['jdoe'])),
  jti: mutation(value('', 'fixed-jti-1', 'fixed-jti-2', 5, '__proto__')),
});
/** JOSE header typ. */
const typMutation = fc.oneof(
  { weight: 4, arbitrary: fc.constant<string | undefined>(undefined) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom('logout+jwt', 'JWT', 'application/logout+jwt', 'at+jwt', 'secevent+jwt', 'jwt '),
      fc.constantFrom(...PROTOTYPE_NAMES),
      fc.string({ maxLength: 12 }),
    ),
  },
);
/** Claims the checks ignore, with awkward names (the checks must not be confused by them). */
const extraClaims = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.string({ unit: 'grapheme', maxLength: 12 })),
    anyClaimValue,
  ),
  { maxLength: 4 },
);

const RESERVED = new Set(['iss', 'aud', 'iat', 'exp', 'nbf', 'events', 'nonce', 'sid', 'sub', 'jti', 'typ']);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The rules, written from the specification (not from the implementation): signed by the realm
 * (always, here), iss and aud, iat present and not older than 300 s nor in the future (30 s
 * tolerance), exp and nbf respected when present, the back-channel event, no nonce, a sid or sub
 * (non-empty strings when present), a jti (non-empty string), JOSE typ JWT or logout+jwt.
 */
function isValid(claims: Record<string, unknown>, typ: string, nowSec: number): boolean {
  const { iss, aud, iat, exp, nbf, events, sid, sub, jti } = claims;
  const typName = typ.toLowerCase().replace(/^application\//, '');
  return (
    iss === emulator.issuer &&
    (aud === CLIENT || (Array.isArray(aud) && aud.includes(CLIENT))) &&
    typeof iat === 'number' &&
    nowSec - iat <= MAX_AGE_SEC + TOLERANCE_SEC &&
    iat <= nowSec + TOLERANCE_SEC &&
    (exp === undefined || (typeof exp === 'number' && exp > nowSec + TOLERANCE_SEC)) &&
    (nbf === undefined || (typeof nbf === 'number' && nbf <= nowSec)) &&
    isObject(events) &&
    Object.hasOwn(events, EVENT) &&
    isObject(events[EVENT]) &&
    !Object.hasOwn(claims, 'nonce') &&
    (sid === undefined || nonEmptyString(sid)) &&
    (sub === undefined || nonEmptyString(sub)) &&
    (sid !== undefined || sub !== undefined) &&
    nonEmptyString(jti) &&
    (typName === 'jwt' || typName === 'logout+jwt')
  );
}

describe('arbitrary logout token claims, signed with the realm key', () => {
  it('200 and a marker exactly for valid, unused tokens; otherwise 400 and nothing stored', async () => {
    const accepted = new Set<string>();
    const outcomes = { accepted: 0, refused: 0, replays: 0 };
    await fc.assert(
      fc.asyncProperty(claimMutations, typMutation, extraClaims, async (mutations, typ, extras) => {
        const now = Math.floor(Date.now() / 1000);
        // The reference token, valid for CLIENT.
        const claims: Record<string, unknown> = {
          iss: emulator.issuer,
          aud: CLIENT,
          iat: now - 1,
          exp: now + 120,
          events: { [EVENT]: {} },
          sid: randomUUID(),
          sub: 'jdoe',
          jti: randomUUID(),
        };
        for (const [name, value] of extras) {
          if (!RESERVED.has(name))
            Object.defineProperty(claims, name, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
        }
        for (const [name, change] of Object.entries(mutations) as [string, Mutation][]) {
          if (change.kind === 'delete') Reflect.deleteProperty(claims, name);
          else if (change.kind === 'value') claims[name] = change.value;
          else if (change.kind === 'offset') claims[name] = now + change.seconds;
        }
        // The emulator's signer adds its access-token claims; `undefined` removes one.
        const overrides: Record<string, unknown> = {
          scope: undefined,
          typ: 'Logout',
          azp: undefined,
          sid: undefined,
          sub: undefined,
          ...claims,
        };
        const token = await emulator.issueAccessToken('jdoe', {
          clientId: CLIENT,
          audience: CLIENT,
          claims: overrides,
          ...(typ === undefined ? {} : { header: { typ } }),
        });
        const signed = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
          string,
          unknown
        >;
        const valid = isValid(signed, typ ?? 'JWT', now);
        const replay = valid && accepted.has(String(signed.jti));
        const before = await logoutEntries();
        const answer = await post(new URLSearchParams({ logout_token: token }).toString());
        expectWellFormed(answer, [token]);
        expect({ status: answer.status, valid, replay }).toEqual({
          status: valid && !replay ? 200 : 400,
          valid,
          replay,
        });
        outcomes.replays += replay ? 1 : 0;
        if (answer.status === 200) {
          outcomes.accepted++;
          accepted.add(String(signed.jti));
          expect((await logoutEntries()).size).toBeGreaterThan(0);
        } else {
          outcomes.refused++;
          expect(sameEntries(before, await logoutEntries())).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    // The generator reaches both sides of the rules (and replays of its fixed jti values).
    expect(outcomes.accepted).toBeGreaterThan(5);
    expect(outcomes.refused).toBeGreaterThan(50);
  });
});
