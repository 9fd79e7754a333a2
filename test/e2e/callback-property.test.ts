/**
 * Property-based test of the callback through real HTTP (supertest against an app and the
 * emulator): for any query and Cookie header, never a 500, never a redirect (sign-in), never a
 * session stored, whether or not the browser has a genuine login in progress.
 */
import fc from 'fast-check';
import session from 'express-session';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { headerSafe, nastyString, nastyValue, queryPairs } from '../auth/arbitraries.js';

let emulator: CernSsoEmulator;
let app: TestApp;
const store = new session.MemoryStore();

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { clientId: 'callback-property-app', sessionStore: store });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

function sessionCount(): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((error: unknown, length?: number) => {
      if (error) reject(error instanceof Error ? error : new Error('store failed'));
      else resolve(length ?? 0);
    });
  });
}

/** A real `/login`: its login cookies and state. */
async function genuineLogin(): Promise<{ cookies: string[]; state: string }> {
  const response = await fetch(`${app.baseUrl}/login`, { redirect: 'manual' });
  const state = new URL(response.headers.get('location') ?? '').searchParams.get('state') ?? '';
  return { cookies: response.headers.getSetCookie().map((header) => header.split(';')[0] ?? ''), state };
}

describe('the callback over HTTP, for any query and cookies', () => {
  it('answers 4xx (never 500, never a sign-in) and stores no session', async () => {
    const before = await sessionCount();
    await fc.assert(
      fc.asyncProperty(
        queryPairs,
        fc.array(fc.tuple(nastyString, nastyValue), { maxLength: 4 }),
        fc.constantFrom('none', 'cookie', 'cookie+state'),
        async (pairs, junkCookies, genuine) => {
          const cookies = junkCookies.map(([name, value]) =>
            headerSafe(`${name}=${value}`).replace(/;/g, ''),
          );
          const params = new URLSearchParams(pairs);
          if (genuine !== 'none') {
            const login = await genuineLogin();
            cookies.push(...login.cookies);
            if (genuine === 'cookie+state') params.set('state', login.state);
          }
          let call = request(app.baseUrl)
            .get(`/oidc/callback?${params.toString()}`)
            .set('Accept', 'application/json');
          if (cookies.length > 0) call = call.set('Cookie', cookies.join('; '));
          const response = await call;
          // Node itself refuses a request line over 16 KB (431), before the app: nothing to check.
          if (response.status === 431) return;
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(response.body).toMatchObject({ code: expect.stringMatching(/^ERR_LOGIN_/) as unknown });
          expect(JSON.stringify(response.body)).not.toMatch(/\n\s+at /);
          const setCookies = (response.headers['set-cookie'] as string[] | undefined) ?? [];
          expect(setCookies.some((header) => header.startsWith('app.sid='))).toBe(false);
        },
      ),
      { numRuns: 50 },
    );
    expect(await sessionCount()).toBe(before);
  });
});
