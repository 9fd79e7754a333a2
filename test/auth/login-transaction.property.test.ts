/**
 * Property-based tests (function level) of everything the callback and `/login` read from a
 * client: the callback URL, the Cookie header, the sealed login cookie, returnTo.
 */
import fc from 'fast-check';
import { EncryptJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { CernSsoError } from '../../src/errors.js';
import { bindingCookieName, bindingDigest } from '../../src/auth/browser-binding.js';
import { decideCallback } from '../../src/auth/callback-login.js';
import { parseCookieHeader } from '../../src/auth/cookie-header.js';
import { loginCookieKeys } from '../../src/auth/login-key.js';
import {
  MARKER_PREFIX,
  MAX_PENDING_LOGINS,
  SEALED_PREFIX,
  clearedLoginCookies,
  loginCookieId,
  loginsToDrop,
} from '../../src/auth/login-cookies.js';
import { openPendingLogin, sealPendingLogin, type PendingLogin } from '../../src/auth/login-seal.js';
import type { LoginTransaction } from '../../src/auth/login-transaction.js';
import { safeReturnTo } from '../../src/auth/return-to.js';
import { PROTOTYPE_NAMES, nastyString, nastyValue, queryPairs } from './arbitraries.js';

const TTL = 15 * 60_000;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const transaction: LoginTransaction = {
  keys: loginCookieKeys({ clientSecret: 'property-test-client-secret' }),
  cookies: { callbackPath: '/oidc/callback', loginPath: '/login', secure: false, ttlMs: TTL },
  ttlMs: TTL,
};
/** The same app on https: the binding cookie is read under its `__Host-` name only. */
const secureTransaction: LoginTransaction = {
  ...transaction,
  cookies: { ...transaction.cookies, secure: true },
};
/** The browser-binding cookie of the browser that started the genuine login. */
const BINDING = 'GenuineBinding_0123-xy';
const GENUINE: PendingLogin = {
  state: 'genuine-state-0123456789abcdefghijklmnopq',
  nonce: 'genuine-nonce-0123456789abcdefghijklmnopq',
  codeVerifier: 'genuine-verifier-0123456789abcdefghijklmnopq',
  returnTo: '/home',
  createdAt: NOW - 1000,
  binding: bindingDigest(BINDING),
};
const genuineSealed = await sealPendingLogin(GENUINE, transaction.keys[0], TTL);
const genuineName = `${SEALED_PREFIX}${loginCookieId(GENUINE.state)}`;

function expectLoginStateError(error: unknown): void {
  expect(error).toBeInstanceOf(CernSsoError);
  expect((error as CernSsoError).status).toBe(400);
  expect((error as CernSsoError).code).toBe('ERR_LOGIN_STATE');
}

/**
 * `sealed` with one character changed ('A' <-> 'B'), never the last one of a segment: there the
 * low bits of a base64url character may be padding that decoding ignores (the same bytes).
 */
function alteredAt(sealed: string, at: number): string {
  // A JWE is ASCII: indexes are characters.
  const positions = Array.from({ length: sealed.length - 1 }, (_, i) => i).filter(
    (i) => sealed[i] !== '.' && sealed[i + 1] !== '.',
  );
  const index = positions[at % positions.length] ?? 0;
  return sealed.slice(0, index) + (sealed[index] === 'A' ? 'B' : 'A') + sealed.slice(index + 1);
}

/** A query string from pairs: encoded (as a browser would) or raw (as an attacker may). */
const queryString = fc.tuple(queryPairs, fc.boolean(), fc.boolean()).map(([pairs, raw, withGenuine]) => {
  const all: [string, string][] = withGenuine ? [['state', GENUINE.state], ...pairs] : pairs;
  return raw ? all.map(([name, value]) => `${name}=${value}`).join('&') : new URLSearchParams(all).toString();
});

const BINDING_NAMES = [bindingCookieName(false), bindingCookieName(true)];

/** A well-formed binding value that is not the genuine one. */
const otherBinding = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/).filter((value) => value !== BINDING);

/**
 * Binding cookies a request may carry: under either name (`cernsso_browser`, or
 * `__Host-cernsso_browser`), the genuine value, another well-formed one, junk, or repeated.
 */
const bindingPairs: fc.Arbitrary<string[]> = fc.array(
  fc
    .tuple(
      fc.constantFrom(...BINDING_NAMES),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant(BINDING) },
        { weight: 1, arbitrary: otherBinding },
        { weight: 1, arbitrary: fc.constantFrom(`${BINDING} `, `"${BINDING}"`, BINDING.slice(1), '') },
        { weight: 1, arbitrary: nastyValue },
      ),
    )
    .map(([name, value]) => `${name}=${value}`),
  { maxLength: 3 },
);

/**
 * Cookie headers: junk pairs, with the genuine cookie (intact, altered or misnamed) or not, and
 * binding cookies (right, wrong, misnamed, repeated or none), in any order.
 */
const cookieHeader = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof(nastyString, fc.constant(genuineName)), nastyValue), { maxLength: 6 }),
    fc.oneof(
      { weight: 2, arbitrary: fc.constant('genuine') },
      { weight: 1, arbitrary: fc.constantFrom('none', 'flipped', 'misnamed') },
    ),
    fc.nat(),
    fc.oneof(
      // Often this browser's own binding first, under both names (so whatever the scheme), then
      // anything: the accepting branch is reached often enough to check what it accepts.
      {
        weight: 2,
        arbitrary: bindingPairs.map((rest) => [...BINDING_NAMES.map((n) => `${n}=${BINDING}`), ...rest]),
      },
      { weight: 1, arbitrary: bindingPairs },
    ),
    fc.boolean(),
  )
  .map(([pairs, genuine, at, bindings, bindingsFirst]) => {
    const parts = pairs.map(([name, value]) => `${name}=${value}`);
    if (bindingsFirst) parts.unshift(...bindings);
    else parts.push(...bindings);
    const flipped = alteredAt(genuineSealed, at);
    if (genuine === 'genuine') parts.push(`${genuineName}=${genuineSealed}`);
    if (genuine === 'flipped') parts.push(`${genuineName}=${flipped}`);
    if (genuine === 'misnamed') parts.push(`${SEALED_PREFIX}${loginCookieId('other')}=${genuineSealed}`);
    return parts.join('; ');
  });

describe('the callback decision (state + login cookie + binding), for any URL and Cookie header', () => {
  it('never throws, refuses with 400 ERR_LOGIN_STATE, and accepts only the genuine sealed state of this browser', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(queryString, cookieHeader, fc.boolean(), async (query, cookies, secure) => {
        const app = secure ? secureTransaction : transaction;
        const decision = await decideCallback(`/oidc/callback?${query}`, cookies, app, NOW);
        if (!decision.outcome.ok) {
          expectLoginStateError(decision.outcome.error);
          return;
        }
        // Accepted: exactly one state, the genuine one, its intact cookie was sent, and the
        // binding read under the name of this scheme (the first one sent) is the genuine one.
        const params = new URLSearchParams(query);
        expect(params.getAll('state')).toEqual([GENUINE.state]);
        expect(parseCookieHeader(cookies).get(genuineName)).toBe(genuineSealed);
        expect(parseCookieHeader(cookies).get(bindingCookieName(secure))).toBe(BINDING);
        expect(decision.outcome.login).toEqual(GENUINE);
        expect(decision.clear).toBe(loginCookieId(GENUINE.state));
        accepted++;
      }),
      { numRuns: 300 },
    );
    // The generators do reach the accepting branch, so the invariant above was exercised.
    expect(accepted).toBeGreaterThan(0);
  });

  it.each(PROTOTYPE_NAMES)('state=%s with any cookies: refused', async (state) => {
    await fc.assert(
      fc.asyncProperty(cookieHeader, async (cookies) => {
        const decision = await decideCallback(`/cb?state=${state}&code=x`, cookies, transaction, NOW);
        expect(decision.outcome.ok).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('the genuine state and login cookie, with a wrong or missing binding: never accepted', async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(bindingPairs, fc.boolean(), fc.boolean(), async (bindings, secure, sealedFirst) => {
        const sealed = `${genuineName}=${genuineSealed}`;
        const cookies = (sealedFirst ? [sealed, ...bindings] : [...bindings, sealed]).join('; ');
        const app = secure ? secureTransaction : transaction;
        const decision = await decideCallback(`/cb?state=${GENUINE.state}&code=c`, cookies, app, NOW);
        // Only the genuine value, first under the name of this scheme, is accepted: on https a
        // `cernsso_browser` cookie (which a sibling domain can toss) counts for nothing.
        const bound = parseCookieHeader(cookies).get(bindingCookieName(secure)) === BINDING;
        expect(decision.outcome.ok).toBe(bound);
        expect(decision.clear).toBe(loginCookieId(GENUINE.state));
        if (!decision.outcome.ok) {
          expectLoginStateError(decision.outcome.error);
          expect(decision.outcome.error.details).toEqual(['unbound']);
          refused++;
        }
      }),
      { numRuns: 300 },
    );
    expect(refused).toBeGreaterThan(0);
  });

  it('the genuine state and cookie are accepted, but not once expired', async () => {
    const cookie = `${genuineName}=${genuineSealed}; ${bindingCookieName(false)}=${BINDING}`;
    const url = `/cb?state=${GENUINE.state}&code=c`;
    expect((await decideCallback(url, cookie, transaction, NOW)).outcome.ok).toBe(true);
    const late = await decideCallback(url, cookie, transaction, GENUINE.createdAt + TTL + 1);
    expect(late.outcome.ok).toBe(false);
    expect(late.clear).toBe(loginCookieId(GENUINE.state));
    if (!late.outcome.ok) expect(late.outcome.error.message).toMatch(/expired/);
  });
});

describe('the login cookie opener, for any value and state', () => {
  const jweLike = fc
    .array(fc.string({ unit: fc.constantFrom(...'ABCxyz019-_'.split('')), maxLength: 60 }), {
      minLength: 5,
      maxLength: 5,
    })
    .map((parts) => parts.join('.'));

  it('rejects with nothing but a 400 ERR_LOGIN_STATE', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.oneof(nastyValue, jweLike), { nil: undefined }),
        fc.oneof(nastyString, fc.constant(GENUINE.state)),
        async (value, state) => {
          await openPendingLogin(value, state, transaction.keys, NOW, TTL).then(
            () => {
              throw new Error('opened a forged login cookie');
            },
            (error: unknown) => {
              expectLoginStateError(error);
            },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a genuine login fails for any other state and any single altered character', async () => {
    await fc.assert(
      fc.asyncProperty(nastyString, fc.nat(), async (state, at) => {
        fc.pre(state !== GENUINE.state);
        await expect(openPendingLogin(genuineSealed, state, transaction.keys, NOW, TTL)).rejects.toThrow(
          CernSsoError,
        );
        const altered = alteredAt(genuineSealed, at);
        await expect(
          openPendingLogin(altered, GENUINE.state, transaction.keys, NOW, TTL),
        ).rejects.toMatchObject({ status: 400, code: 'ERR_LOGIN_STATE' });
      }),
      { numRuns: 100 },
    );
  });

  it('a sealed payload with missing or mistyped fields is refused before openid-client', async () => {
    const bad: Record<string, unknown>[] = [
      { ...GENUINE, codeVerifier: '' },
      { ...GENUINE, nonce: 42 },
      { ...GENUINE, createdAt: 'yesterday' },
      { ...GENUINE, createdAt: NOW + 3_600_000 },
      { ...GENUINE, returnTo: null },
      { state: GENUINE.state },
    ];
    for (const payload of bad) {
      // Sealed with the right key by hand: only the payload is wrong.
      const sealed = await new EncryptJWT(payload)
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setExpirationTime(Math.ceil((NOW + TTL) / 1000))
        .encrypt(transaction.keys[0]);
      await expect(openPendingLogin(sealed, GENUINE.state, transaction.keys, NOW, TTL)).rejects.toMatchObject(
        {
          code: 'ERR_LOGIN_STATE',
        },
      );
    }
  });
});

describe('Cookie header parsing and the pending-login bound, for any Cookie header', () => {
  const markerName = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{16}$/).map((id) => `${MARKER_PREFIX}${id}`),
    nastyString.map((id) => `${MARKER_PREFIX}${id}`),
    nastyString,
  );
  const markerValue = fc.oneof(
    fc.integer({ min: NOW - 2 * TTL, max: NOW + TTL }).map((t) => t.toString(36)),
    nastyValue,
  );
  const header = fc
    .array(fc.tuple(markerName, markerValue), { maxLength: 20 })
    .map((pairs) => pairs.map(([name, value]) => `${name}=${value}`).join(';'));

  it('never throws; drops only well-formed ids; leaves at most MAX - 1 live logins', () => {
    fc.assert(
      fc.property(fc.oneof(header, nastyValue), (text) => {
        const cookies = parseCookieHeader(text);
        const dropped = loginsToDrop(cookies, NOW, TTL);
        for (const id of dropped) {
          expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
          expect(() => clearedLoginCookies(transaction.cookies, id)).not.toThrow();
        }
        const live = [...cookies].filter(([name, value]) => {
          const id = name.slice(MARKER_PREFIX.length);
          if (!name.startsWith(MARKER_PREFIX) || !/^[A-Za-z0-9_-]{16}$/.test(id)) return false;
          const at = /^[0-9a-z]{1,11}$/.test(value) ? parseInt(value, 36) : NaN;
          return NOW - at < TTL && !dropped.includes(id);
        });
        expect(live.length).toBeLessThanOrEqual(MAX_PENDING_LOGINS - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('prototype names are ordinary cookie names', () => {
    const cookies = parseCookieHeader('__proto__=a; constructor=b; toString=c');
    expect(cookies.get('__proto__')).toBe('a');
    expect(cookies.get('constructor')).toBe('b');
    expect(cookies.get('valueOf')).toBeUndefined();
    expect(cookies.size).toBe(3);
  });
});

describe('safeReturnTo, for any string', () => {
  const pathLike = fc
    .array(
      fc.oneof(
        fc.constantFrom('/', '//', '\\', '%2f', '%2F', '%5c', '%5C', '%252f', '%2e', '.', '..', '\t', '%09'),
        nastyString,
      ),
      { maxLength: 10 },
    )
    .map((parts) => parts.join(''));

  it('never yields a path that resolves off-site', () => {
    fc.assert(
      fc.property(fc.oneof(pathLike, nastyValue), (input) => {
        const result = safeReturnTo(input);
        expect(result.startsWith('/')).toBe(true);
        expect(result.startsWith('//')).toBe(false);
        // eslint-disable-next-line no-control-regex -- control characters are what must not appear
        expect(result).not.toMatch(/[\\\u0000-\u001f\u007f]/);
        expect(new URL(result, 'https://app.example').origin).toBe('https://app.example');
        // What a browser does with `Location: <result>` on another page of the site, too.
        expect(new URL(result, 'https://app.example/a/b/c').origin).toBe('https://app.example');
      }),
      { numRuns: 500 },
    );
  });
});
