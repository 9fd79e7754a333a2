import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cernSso, createIdentityProvider, CernSsoError } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp } from '../helpers/app.js';

const DISCOVERY = '/auth/realms/cern/.well-known';

function configError(run: () => unknown): CernSsoError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    return error as CernSsoError;
  }
  throw new Error('expected a configuration error');
}

/** A clock that only moves when told to. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let at = Date.now();
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

let emulator: CernSsoEmulator;
beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await emulator.close();
});

describe('the clock option', () => {
  it.each([
    ['an object without now()', {}],
    ['a function', () => 0],
    ['null', null],
  ])('%s is ERR_CONFIG naming clock, for cernSso() and createIdentityProvider()', (_what, clock) => {
    const base = { clientId: 'a', clientSecret: 'b' };
    for (const run of [
      () => cernSso({ ...base, baseUrl: 'https://app.web.cern.ch', clock: clock as never }),
      () => createIdentityProvider({ ...base, clock: clock as never }),
    ]) {
      const error = configError(run);
      expect(error.code).toBe('ERR_CONFIG');
      expect(error.details).toContain('clock: must be an object with a now() method');
    }
  });

  it("cernSso()'s clock decides when a failed discovery is tried again (no waiting)", async () => {
    const clock = manualClock();
    emulator.faults.set(DISCOVERY, { status: 503 });
    const app = await startTestApp(emulator, { clientId: 'clock-app', sso: { clock } });
    try {
      const login = () => request(app.baseUrl).get('/login').set('accept', 'application/json');
      expect((await login()).status).toBe(503);
      emulator.faults.clear();
      emulator.requests.reset();
      // Keycloak is back, but by the injected clock no time has passed: still 503, no new request.
      const held = await login();
      expect(held.status).toBe(503);
      expect(held.headers['retry-after']).toBeDefined();
      expect(emulator.requests.count(DISCOVERY)).toBe(0);
      clock.advance(2_001);
      const back = await login();
      expect(back.status).toBe(302);
      expect(back.headers.location).toContain(`${emulator.issuer}/protocol/openid-connect/auth`);
    } finally {
      await app.close();
    }
  });
});
