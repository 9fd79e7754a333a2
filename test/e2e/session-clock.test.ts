/**
 * cernSso()'s `clock` option drives the time of sign-ins, through real HTTP (app + emulator):
 * moving an injected clock, without any real time passing (no fake timers either), expires
 * access tokens and pending logins exactly when the clock says so.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps } from '../helpers/login-steps.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const TOKEN_PATH = '/auth/realms/cern/protocol/openid-connect/token';
const JSON_ACCEPT = { accept: 'application/json' };
/** The emulator's default access (and ID) token lifetime. */
const TOKEN_TTL_MS = 300_000;
/** The library refreshes this long before expiry. */
const EXPIRY_MARGIN_MS = 30_000;
const LOGIN_TIMEOUT_MS = 60_000;

/** A clock that only moves when told to; `reset()` puts it back on real time. */
function manualClock(): { now: () => number; advance: (ms: number) => void; reset: () => void } {
  let at = Date.now();
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
    reset: () => {
      at = Date.now();
    },
  };
}

let emulator: CernSsoEmulator;
let app: TestApp;
let clock: ReturnType<typeof manualClock>;
const { startLogin, authorizeAs, whoAmI } = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  clock = manualClock();
  app = await startTestApp(emulator, {
    clientId: 'clock-sessions',
    sso: { clock, loginTimeoutMs: LOGIN_TIMEOUT_MS },
  });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});
// The emulator stamps its tokens in real time: each test starts with the clock on it.
beforeEach(() => {
  clock.reset();
});

async function tokenDigest(browser: TestBrowser): Promise<string> {
  const response = await browser.request(`${app.baseUrl}/api/token-info`, { headers: JSON_ACCEPT });
  expect(response.status).toBe(200);
  return ((await response.json()) as { digest: string }).digest;
}

describe("cernSso()'s clock", () => {
  it('decides when the access token expires: the next request after it refreshes, once', async () => {
    const browser = new TestBrowser();
    const callback = await authorizeAs('jdoe', await startLogin(browser));
    expect((await browser.request(callback.href)).status).toBe(302);
    const first = await tokenDigest(browser);
    emulator.requests.reset();

    // Just before the refresh margin by the clock: the token is kept.
    clock.advance(TOKEN_TTL_MS - EXPIRY_MARGIN_MS - 5_000);
    expect(await tokenDigest(browser)).toBe(first);
    expect(emulator.requests.count(TOKEN_PATH, 'POST')).toBe(0);

    // Past it: one refresh (a token request at the emulator), then the new token is kept.
    clock.advance(10_000);
    const refreshed = await tokenDigest(browser);
    expect(refreshed).not.toBe(first);
    expect(await tokenDigest(browser)).toBe(refreshed);
    expect(emulator.requests.count(TOKEN_PATH, 'POST')).toBe(1);
  });

  it('decides when a pending login expires: past loginTimeoutMs the callback is 400 "expired"', async () => {
    const browser = new TestBrowser();
    const callback = await authorizeAs('jdoe', await startLogin(browser));
    clock.advance(LOGIN_TIMEOUT_MS + 1_000);
    const response = await browser.request(callback.href, { headers: JSON_ACCEPT });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; error_description: string };
    expect(body.code).toBe('ERR_LOGIN_STATE');
    expect(body.error_description).toMatch(/expired/);
    expect(await whoAmI(browser)).toBeUndefined();
  });

  it('a login inside loginTimeoutMs by the clock completes', async () => {
    const browser = new TestBrowser();
    const callback = await authorizeAs('jdoe', await startLogin(browser));
    clock.advance(LOGIN_TIMEOUT_MS - 5_000);
    expect((await browser.request(callback.href)).status).toBe(302);
    expect(await whoAmI(browser)).toBe('jdoe');
  });

  it("dates openid-client's ID token checks: an ID token expired by the clock is refused", async () => {
    // Another app, whose clock runs past the emulator's token lifetime (and the 30 s tolerance)
    // during a login, well inside its loginTimeoutMs.
    const ahead = manualClock();
    const patient = await startTestApp(emulator, {
      clientId: 'clock-sessions-late',
      sso: { clock: ahead, loginTimeoutMs: 15 * 60_000 },
    });
    try {
      const browser = new TestBrowser();
      const callback = await authorizeAs('jdoe', await startLogin(browser, patient.baseUrl));
      ahead.advance(TOKEN_TTL_MS + 60_000);
      const response = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe('ERR_LOGIN_FAILED');
      expect(await whoAmI(browser, patient.baseUrl)).toBeUndefined();
    } finally {
      await patient.close();
    }
  });
});
