/**
 * The steps of a code-flow login against the emulator, taken one at a time so that a test can
 * interleave, copy or tamper with them (parallel tabs, replays, foreign callbacks).
 */
import { expect } from 'vitest';
import type { CernSsoEmulator } from 'express-cern-sso/testing';
import { SEALED_PREFIX, loginCookieId } from '../../src/auth/login-cookies.js';
import { TestBrowser } from './browser.js';

const JSON_ACCEPT = { accept: 'application/json' };

/** Name of the sealed login cookie of the login that redirected to `authorize`. */
export const sealedName = (authorize: URL): string =>
  `${SEALED_PREFIX}${loginCookieId(authorize.searchParams.get('state') ?? '')}`;

/** Steps bound to a test file's emulator and app (getters: both are set in `beforeAll`). */
export function loginSteps(emulator: () => CernSsoEmulator, appBaseUrl: () => string) {
  return {
    /** `GET /login` in `browser`: the authorize URL it redirects to. */
    startLogin: async (browser: TestBrowser, base = appBaseUrl(), returnTo = '/api/me'): Promise<URL> => {
      const response = await browser.request(`${base}/login?returnTo=${encodeURIComponent(returnTo)}`);
      expect(response.status).toBe(302);
      return new URL(response.headers.get('location') ?? '');
    },

    /** The emulator's redirect back to the app for `login` (code, state, iss), not followed. */
    authorizeAs: async (login: string, authorizeUrl: URL): Promise<URL> => {
      emulator().setAutoLogin(login);
      const response = await new TestBrowser().request(authorizeUrl.href);
      expect(response.status).toBe(302);
      emulator().setAutoLogin(false);
      return new URL(response.headers.get('location') ?? '');
    },

    /** The signed-in login in `browser`, or undefined when signed out. */
    whoAmI: async (browser: TestBrowser, base = appBaseUrl()): Promise<string | undefined> => {
      const response = await browser.request(`${base}/api/me`, { headers: JSON_ACCEPT });
      if (response.status === 401) return undefined;
      expect(response.status).toBe(200);
      return ((await response.json()) as { user: { login: string } }).user.login;
    },
  };
}
