import type { Request } from 'express';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, CernSsoError } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { userFromClaims } from '../../src/auth/user.js';
import {
  bearerCandidate,
  bearerTokenOf,
  MAX_AUTHORIZATION_LENGTH,
  readBearerToken,
} from '../../src/bearer/header.js';
import { checkAudience, checkAuthorizedParty, checkTokenType, peekJwt } from '../../src/bearer/jwt.js';
import { resolveBearerConfig } from '../../src/bearer/options.js';
import { createTokenValidator, type TokenValidator } from '../../src/bearer/validator.js';
import { claimAt } from '../../src/guards/require-claim.js';
import { recordingLogger } from '../helpers/app.js';

const AUDIENCE = 'my-api';
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Names that resolve on plain objects through the prototype. */
const prototypeName = fc.constantFrom(
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'prototype',
  '__defineGetter__',
);

/** Any text: prototype names, full unicode with control characters, JWT-ish pieces, huge strings. */
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: prototypeName },
  {
    weight: 1,
    arbitrary: fc.constantFrom('Bearer', 'bearer', 'Basic', 'none', 'RS256', 'JWT', 'at+jwt', 'ID', ''),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 8000, maxLength: 9000 }) },
);

/** The same without the huge strings: cheap enough to nest. */
const smallText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: prototypeName },
  { weight: 1, arbitrary: fc.constantFrom('Bearer', 'ID', 'Refresh', 'RS256', 'JWT', 'at+jwt', '') },
);

/** A JSON value as a parser would see it, prototype names among keys and strings. */
const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    prototypeName,
    smallText,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc
    .array(fc.tuple(fc.oneof(prototypeName, smallText), tie('value')), { maxLength: 5 })
    .map(objectJson),
})).value;

/** Builds the object as JSON.parse does: every key an own property, `__proto__` included. */
function objectJson(entries: readonly (readonly [string, unknown])[]): unknown {
  return JSON.parse(
    `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`,
  );
}

/** Claims or a JOSE header: known names with any value, plus prototype names and other keys. */
function jsonObject(known: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...known), prototypeName, smallText), jsonValue), {
      maxLength: 8,
    })
    .map((entries) => objectJson(entries) as Record<string, unknown>);
}

const CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'typ',
  'azp',
  'cern_upn',
  'groups',
  'cern_roles',
  'resource_access',
];
const HEADER = ['alg', 'typ', 'kid', 'crit', 'jku', 'b64'];
const b64url = (value: string): string => Buffer.from(value).toString('base64url');

let emulator: CernSsoEmulator;

/** A JWT-shaped token: header and claims from `jsonObject`, some with the trusted issuer and a valid alg. */
function jwtShaped(): fc.Arbitrary<string> {
  return fc
    .tuple(
      jsonObject(HEADER),
      jsonObject(CLAIMS),
      fc.boolean(),
      fc.oneof(
        fc.constant(''),
        fc.base64String({ maxLength: 64 }).map((s) => s.replace(/=/g, '')),
      ),
      fc.constantFrom(undefined, 'JWT', 'at+jwt'),
      fc.oneof(fc.constantFrom(undefined, 'Bearer', 'ID', 'Logout'), prototypeName),
    )
    .map(([header, claims, plausible, signature, typ, claimTyp]) => {
      // Half of them get past the routing checks (alg, iss, header typ), so the deeper checks
      // (typ claim, kid, keys, signature, claims) see them too.
      const h = plausible ? { ...header, alg: 'RS256', typ } : header;
      const c = plausible
        ? {
            ...claims,
            iss: emulator.issuer,
            exp: Math.floor(Date.now() / 1000) + 60,
            ...(claimTyp === undefined ? {} : { typ: claimTyp }),
          }
        : claims;
      return `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(c))}.${signature.replace(/\+/g, '-').replace(/\//g, '_')}`;
    });
}

/** A token as a client may send it: JWT-shaped, b64token garbage, or anything. */
const anyToken = (): fc.Arbitrary<string> =>
  fc.oneof(
    jwtShaped(),
    fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,80}=*$/),
    prototypeName,
    fc.string({ unit: 'binary', maxLength: 60 }),
    // Around the 8 KB limit of the header, and past Node's 16 KB for all headers.
    fc.integer({ min: 8000, max: 20_000 }).map((length) => 'A'.repeat(length)),
  );

/** A fake request for the header parser: raw headers in order, a URL, maybe a parsed body. */
function fakeRequest(rawHeaders: string[], url = '/', body?: unknown): Request {
  return { rawHeaders, originalUrl: url, url, body } as unknown as Request;
}

function expectClientError(error: unknown, status: number): void {
  expect(error).toBeInstanceOf(CernSsoError);
  expect((error as CernSsoError).status).toBe(status);
  expect(typeof (error as CernSsoError).message).toBe('string');
}

let validator: TokenValidator;
let app: express.Express;
const logger = recordingLogger();

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  const config = resolveBearerConfig({
    issuer: emulator.issuer,
    audience: AUDIENCE,
    logger,
    jwksCooldownMs: 0,
  });
  validator = createTokenValidator(config);
  app = express();
  app.use(bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger, jwksCooldownMs: 0 }));
  app.get('/', (req, res) => {
    res.json({ signedIn: req.sso.isAuthenticated(), login: req.sso.user?.login });
  });
});
afterAll(async () => {
  await emulator.close();
});

describe('the Authorization header parser (function level)', () => {
  const scheme = fc.oneof(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'DPoP', ''),
    prototypeName,
    text,
  );
  const space = fc.constantFrom(' ', '  ', '\t', '', '\u00a0', '\n', '\r\n', '\u2003');
  const value = fc.oneof(
    fc.tuple(scheme, space, anyToken(), space).map(([s, sp, token, tail]) => `${s}${sp}${token}${tail}`),
    text,
  );
  const headerName = fc.constantFrom(
    'Authorization',
    'authorization',
    'AUTHORIZATION',
    'X-Other',
    'Proxy-Authorization',
  );

  it('answers undefined, a b64token, or a 400: never anything else', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerName, value), { maxLength: 3 }),
        fc.oneof(
          fc.constant('/'),
          fc.string({ unit: 'binary', maxLength: 40 }).map((q) => `/?${q}`),
        ),
        (headers, url) => {
          let token: string | undefined;
          try {
            token = readBearerToken(fakeRequest(headers.flat(), url));
          } catch (error) {
            expectClientError(error, 400);
            // The description is ours: it never repeats what the client sent.
            for (const [, sent] of headers) {
              if (sent.length >= 12) expect((error as CernSsoError).message).not.toContain(sent);
            }
            return;
          }
          if (token === undefined) return;
          expect(token).toMatch(B64TOKEN);
          expect(token.length).toBeLessThanOrEqual(MAX_AUTHORIZATION_LENGTH);
          const authorizations = headers.filter(([name]) => name.toLowerCase() === 'authorization');
          expect(authorizations).toHaveLength(1);
          expect(authorizations[0]?.[1].toLowerCase().startsWith('bearer ')).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the cache-lookup candidate of a value is, when it is a valid token, the token the full parser reads', () => {
    // The fast path accepts a candidate only when its SHA-256 is that of a token verified before,
    // which passed bearerTokenOf: so a candidate that is a valid token must be what it reads.
    fc.assert(
      fc.property(value, (sent) => {
        const candidate = bearerCandidate(sent);
        if (candidate === undefined) return;
        expect(sent.toLowerCase().startsWith('bearer ')).toBe(true);
        // Every token the parser reads is a b64token, which it reads back from `Bearer <token>`:
        // a candidate that is not read back so can never be a cached token's.
        let readBack: string | undefined;
        try {
          readBack = bearerTokenOf(`Bearer ${candidate}`);
        } catch {
          return;
        }
        if (readBack !== candidate) return;
        expect(bearerTokenOf(sent)).toBe(candidate);
      }),
      { numRuns: 300 },
    );
  });

  it('a token in the query or the body is always refused', () => {
    fc.assert(
      fc.property(
        fc.oneof(prototypeName, text),
        fc.oneof(fc.constant(undefined), fc.constant('Bearer abc')),
        (token, header) => {
          const raw = header === undefined ? [] : ['Authorization', header];
          const inQuery = `/?access_token=${encodeURIComponent(token)}`;
          expect(() => readBearerToken(fakeRequest(raw, inQuery))).toThrow(/tokens in the URL are refused/);
          const body = objectJson([['access_token', token]]);
          expect(() => readBearerToken(fakeRequest(raw, '/', body))).toThrow(/request body are refused/);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('token checks (function level)', () => {
  it('checkTokenType, checkAudience and checkAuthorizedParty accept or answer 401, whatever the values', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(undefined, 'JWT', 'at+jwt'), jsonValue),
        fc.oneof(fc.constant(undefined), prototypeName, jsonValue),
        jsonObject(CLAIMS),
        (headerTyp, claimTyp, claims) => {
          for (const check of [
            () => {
              checkTokenType(headerTyp, claimTyp);
            },
            () => {
              checkAudience(claims.aud, [AUDIENCE]);
            },
            () => {
              checkAuthorizedParty(claims, ['frontend']);
            },
          ]) {
            try {
              check();
            } catch (error) {
              expectClientError(error, 401);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('peekJwt routes or refuses with 401; claims are mapped to a user without throwing', () => {
    fc.assert(
      fc.property(anyToken(), jsonObject(CLAIMS), (token, claims) => {
        try {
          peekJwt(token);
        } catch (error) {
          expectClientError(error, 401);
        }
        const user = userFromClaims(claims);
        if (user) {
          expect(typeof user.login).toBe('string');
          expect(typeof user.issuer).toBe('string');
          expect(user.roles.every((role) => typeof role === 'string')).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('claimAt finds own values only, never something of Object.prototype', () => {
    fc.assert(
      fc.property(
        jsonObject(CLAIMS),
        fc.array(fc.oneof(prototypeName, fc.constantFrom(...CLAIMS)), { minLength: 1, maxLength: 3 }),
        (claims, segments) => {
          const found = claimAt(claims, segments.join('.'));
          if (found === undefined) return;
          // Whatever it found was serialised in the token: a JSON value, never a function.
          expect(typeof found).not.toBe('function');
          expect(found).not.toBe(Object.prototype);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the validator never accepts a forged token, and refuses each with 401', async () => {
    await fc.assert(
      fc.asyncProperty(jwtShaped(), async (token) => {
        const outcome = await validator.validate(token).then(
          () => 'accepted',
          (error: unknown) => error,
        );
        expect(outcome).not.toBe('accepted');
        expectClientError(outcome, 401);
      }),
      { numRuns: 200 },
    );
  });
});

describe('through real HTTP', () => {
  /** Header values Node's HTTP client can send: no CR/LF/NUL, latin-1 only. */
  const sendable = (value: string): string => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

  it('never a 500, never signed in with a forged token, never the token echoed or logged', async () => {
    const scheme = fc.constantFrom('Bearer ', 'bearer  ', 'Basic ', '', 'Bearer\t');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(scheme, anyToken()), { minLength: 1, maxLength: 2 }),
        async (headers) => {
          const sent = headers.map(([s, token]) => sendable(`${s}${token}`));
          let call = request(app).get('/').set('Accept', 'application/json');
          // Repeated headers go out as separate lines: Node sends an array value as several (its
          // types only admit that for Cookie).
          call = call.set('Authorization', (sent.length === 1 ? sent[0] : sent) as string);
          const answer = await call;
          // 431: Node itself refuses request headers over 16 KB, before any middleware.
          expect([400, 401, 431, 503]).toContain(answer.status);
          expect(answer.body).not.toHaveProperty('signedIn');
          for (const [, token] of headers) {
            const shown = sendable(token);
            if (shown.length >= 12) {
              expect(answer.text).not.toContain(shown);
              expect(answer.headers['www-authenticate'] ?? '').not.toContain(shown);
              expect(logger.text()).not.toContain(shown);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('a verified token still signs in (the property above is not vacuous)', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answer = await request(app).get('/').set('Authorization', `Bearer ${token}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ signedIn: true, login: 'jdoe' });
    expect(logger.text()).not.toContain(token);
  });
});
