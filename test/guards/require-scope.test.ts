import type { RequestHandler } from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth, CernSsoError, requireClaim, requireScope } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { grantedScopes } from '../../src/guards/require-scope.js';
import { recordingLogger, startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';
import { call, startApp, type RunningApp } from '../bearer/helpers.js';

const AUDIENCE = 'my-api';

let emulator: CernSsoEmulator;
let api: RunningApp;
let sessionApp: TestApp;
const logger = recordingLogger();
const predicateCalls: unknown[][] = [];

const ok: RequestHandler = (req, res) => {
  res.json({ login: req.sso.user?.login });
};

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  api = await startApp((app) => {
    app.use('/api', bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger }));
    app.get('/api/read', requireScope('read'), ok);
    app.get('/api/any', requireScope(['read', 'write']), ok);
    app.get('/api/all', requireScope(['read', 'write'], { match: 'all' }), ok);
    app.get('/api/two', requireScope(['read', 'write', 'admin'], { match: 2 }), ok);
    // A guard built per request from the query: the property below tries many scope names.
    app.get(
      '/api/dynamic',
      (req, res, next) => {
        requireScope(typeof req.query.scope === 'string' ? req.query.scope : '')(req, res, next);
      },
      ok,
    );
    app.get(
      '/api/level',
      requireClaim('level', (value, claims) => {
        predicateCalls.push([value, claims.sub]);
        return typeof value === 'number' && value >= 2;
      }),
      ok,
    );
    app.get(
      '/api/truthy',
      requireClaim('sub', () => 'yes' as unknown as boolean),
      ok,
    );
    app.get(
      '/api/throws',
      requireClaim('sub', () => {
        throw new Error('predicate exploded with s3cr3t');
      }),
      ok,
    );
    app.get('/api/async', requireClaim('sub', (() => Promise.resolve(true)) as unknown as () => boolean), ok);
  });
  sessionApp = await startTestApp(emulator, {
    routes: (app) => {
      app.get('/scoped', requireScope('openid'), ok);
    },
  });
});
afterAll(async () => {
  await Promise.all([api.close(), sessionApp.close()]);
  await emulator.close();
});

const token = (login: string, options: Parameters<CernSsoEmulator['issueAccessToken']>[1] = {}) =>
  emulator.issueAccessToken(login, { audience: AUDIENCE, ...options });

describe('requireScope on bearer routes', () => {
  it('a token whose scope claim holds the scope passes; one without it gets 403 insufficient_scope with scope="…"', async () => {
    expect(
      (await call(`${api.url}/api/read`, { token: await token('jdoe', { scope: 'openid read' }) })).json,
    ).toEqual({
      login: 'jdoe',
    });
    const denied = await call(`${api.url}/api/read`, {
      token: await token('jdoe', { scope: 'openid readonly read:all' }),
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_scope", error_description="Access requires the scope \'read\'.", scope="read"',
    );
    expect(denied.json).toEqual({
      error: 'insufficient_scope',
      error_description: 'Access requires the scope "read".',
      code: 'ERR_FORBIDDEN',
    });
  });

  it('match: any (default), all, and at least n; the challenge lists the required scopes', async () => {
    const withScopes = async (scope: string, path: string) =>
      (await call(`${api.url}/api/${path}`, { token: await token('jdoe', { scope }) })).status;
    expect(await withScopes('write', 'any')).toBe(200);
    expect(await withScopes('profile', 'any')).toBe(403);
    expect(await withScopes('read write', 'all')).toBe(200);
    expect(await withScopes('read', 'all')).toBe(403);
    expect(await withScopes('admin read', 'two')).toBe(200);
    expect(await withScopes('admin', 'two')).toBe(403);
    const denied = await call(`${api.url}/api/all`, { token: await token('jdoe', { scope: 'read' }) });
    expect(denied.headers.get('www-authenticate')).toMatch(/, scope="read write"$/);
  });

  it('scopes are exact and case-sensitive; an array or a missing scope claim holds none', async () => {
    expect(
      (await call(`${api.url}/api/read`, { token: await token('jdoe', { scope: 'READ' }) })).status,
    ).toBe(403);
    const asArray = await token('jdoe', { claims: { scope: ['read'] } });
    expect((await call(`${api.url}/api/read`, { token: asArray })).status).toBe(403);
    const none = await token('jdoe', { claims: { scope: undefined } });
    expect((await call(`${api.url}/api/read`, { token: none })).status).toBe(403);
  });

  it('anonymous: 401 with a bare Bearer challenge, like the other guards', async () => {
    const anonymous = await call(`${api.url}/api/read`, { headers: { accept: 'text/html' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(anonymous.json.code).toBe('ERR_NOT_AUTHENTICATED');
  });

  it('property: a scope is granted over HTTP exactly when the token holds it as a whole token', async () => {
    const name = fc.oneof(
      fc.constantFrom('read', 'write', 'Read', 're', 'read:all', ...PROTOTYPE_NAMES),
      scopeToken,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(name, { maxLength: 4 }),
        name,
        fc.integer({ min: 1, max: 3 }),
        async (held, wanted, gap) => {
          const scope = held.join(' '.repeat(gap));
          const answer = await call(`${api.url}/api/dynamic?scope=${encodeURIComponent(wanted)}`, {
            token: await token('jdoe', { scope }),
          });
          expect(answer.status).toBe(held.includes(wanted) ? 200 : 403);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('requireScope on session routes', () => {
  it('anonymous browsers go to the login; signed-in users are judged on the ID token, which has no scope', async () => {
    const browser = new TestBrowser();
    const anonymous = await browser.request(`${sessionApp.baseUrl}/scoped`, {
      headers: { accept: 'text/html' },
    });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe('/login?returnTo=%2Fscoped');
    emulator.setAutoLogin('jdoe');
    expect((await browser.navigate(`${sessionApp.baseUrl}/login`)).body).toBe('home of jdoe');
    const denied = await browser.request(`${sessionApp.baseUrl}/scoped`, {
      headers: { accept: 'application/json' },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toBeNull();
    expect(await denied.json()).toMatchObject({ error: 'access_denied', code: 'ERR_FORBIDDEN' });
  });
});

describe('requireScope arguments', () => {
  it('refuses an empty list, non-strings, names that are not RFC 6749 scope tokens and a bad match', () => {
    expect(() => requireScope([])).toThrow(CernSsoError);
    expect(() => requireScope([])).toThrow(/at least one value/);
    expect(() => requireScope([42 as unknown as string])).toThrow(/non-empty strings/);
    for (const bad of ['read write', 'a"b', 'a\\b', 'lesen€', 'tab\there']) {
      let thrown: unknown;
      try {
        requireScope(bad);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'ERR_CONFIG' });
    }
    expect(() => requireScope(['a', 'b'], { match: 3 })).toThrow(/match must be/);
    expect(() => requireScope('read', { match: 'some' as 'any' })).toThrow(/match must be/);
    expect(() => requireScope(['read', 'https://api.cern.ch/write'], { match: 'all' })).not.toThrow();
  });
});

const SCOPE_CHARS = [0x21, ...range(0x23, 0x5b), ...range(0x5d, 0x7e)].map((c) => String.fromCharCode(c));
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
const scopeToken = fc.string({ unit: fc.constantFrom(...SCOPE_CHARS), minLength: 1, maxLength: 8 });

describe('scope parsing (property)', () => {
  it('never grants a name that is not a whole space-separated token (prototype names, unicode, repeated spaces)', () => {
    const token = fc.oneof(
      scopeToken,
      fc.constantFrom(...PROTOTYPE_NAMES),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((s) => !s.includes(' ')),
    );
    const spaces = fc.integer({ min: 1, max: 4 }).map((n) => ' '.repeat(n));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token, spaces), { maxLength: 6 }),
        spaces,
        fc.oneof(token, fc.constantFrom(...PROTOTYPE_NAMES), fc.string()),
        (parts, lead, wanted) => {
          const scope = lead + parts.map(([name, gap]) => name + gap).join('');
          const held = parts.map(([name]) => name);
          expect(grantedScopes({ scope }).has(wanted)).toBe(held.includes(wanted));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('only an own string scope claim counts', () => {
    expect(grantedScopes(undefined).size).toBe(0);
    expect(grantedScopes({ scope: 7 }).size).toBe(0);
    expect(grantedScopes(Object.create({ scope: 'read' }) as Record<string, unknown>).size).toBe(0);
    expect([...grantedScopes({ scope: '  a  b ' })]).toEqual(['a', 'b']);
  });
});

describe('requireClaim with a predicate', () => {
  it('true grants, false denies with 403; the predicate gets the value at the path and all the claims', async () => {
    predicateCalls.length = 0;
    expect(
      (await call(`${api.url}/api/level`, { token: await token('jdoe', { claims: { level: 3 } }) })).status,
    ).toBe(200);
    const denied = await call(`${api.url}/api/level`, {
      token: await token('jdoe', { claims: { level: 1 } }),
    });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ error: 'insufficient_scope', code: 'ERR_FORBIDDEN' });
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope"/);
    expect((await call(`${api.url}/api/level`, { token: await token('jdoe') })).status).toBe(403);
    expect(predicateCalls).toEqual([
      [3, 'jdoe'],
      [1, 'jdoe'],
      [undefined, 'jdoe'],
    ]);
  });

  it('a non-boolean result denies (only true grants)', async () => {
    expect((await call(`${api.url}/api/truthy`, { token: await token('jdoe') })).status).toBe(403);
  });

  it('a throwing predicate: 500 ERR_INTERNAL, logged, no message or stack sent', async () => {
    logger.error.mockClear();
    const answer = await call(`${api.url}/api/throws`, { token: await token('jdoe') });
    expect(answer.status).toBe(500);
    expect(answer.json.code).toBe('ERR_INTERNAL');
    expect(answer.text).not.toMatch(/exploded|s3cr3t|at /);
    expect(logger.lines('error').join('\n')).toMatch(
      /guard failed.*requireClaim|requireClaim.*guard failed/s,
    );
  });

  it('an async predicate: 500 ERR_CONFIG, logged (never a silent grant or denial)', async () => {
    logger.error.mockClear();
    const answer = await call(`${api.url}/api/async`, { token: await token('jdoe') });
    expect(answer.status).toBe(500);
    expect(answer.json.code).toBe('ERR_CONFIG');
    expect(logger.lines('error').join('\n')).toMatch(/returned a promise/);
  });
});
