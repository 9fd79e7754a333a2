import { describe, expect, it } from 'vitest';
import { CernSsoError } from 'express-cern-sso';
import { resolveSsoConfig } from '../../src/config.js';
import { setCookieHeader } from '../../src/auth/cookie-header.js';
import type { OidcDiscovery } from '../../src/auth/discovery.js';
import { LOGIN_KEY_INFO, LOGIN_KEY_SALT, loginCookieKeys } from '../../src/auth/login-key.js';
import { loginCookieId, pendingLoginCookies } from '../../src/auth/login-cookies.js';
import { openPendingLogin, sealPendingLogin } from '../../src/auth/login-seal.js';
import { loginTransaction } from '../../src/auth/login-transaction.js';
import { createRuntime, type GroupSource } from '../../src/auth/runtime.js';

const base = { clientId: 'my-app', clientSecret: 'client-secret-of-my-app' };
const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(40);

function transactionFor(options: Parameters<typeof resolveSsoConfig>[0]) {
  const config = resolveSsoConfig({ ...base, ...options });
  return loginTransaction(createRuntime(config, {} as OidcDiscovery, {} as GroupSource));
}

describe('the Set-Cookie builder', () => {
  it('always HttpOnly and SameSite=Lax; Secure only when asked; Max-Age in whole seconds, rounded up', () => {
    const plain = setCookieHeader('n', 'v', { path: '/cb', maxAgeSec: 0.05, secure: false });
    expect(plain).toMatch(/^n=v; Path=\/cb; Max-Age=1; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    const secure = setCookieHeader('n', 'v', { path: '/cb', maxAgeSec: 900, secure: true });
    expect(secure).toMatch(/; Max-Age=900; .*; Secure$/);
    const cleared = setCookieHeader('n', '', { path: '/cb', maxAgeSec: 0, secure: false });
    expect(cleared).toMatch(/Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
  });

  it('refuses names, values and paths that would break the header', () => {
    for (const [name, value, path] of [
      ['a b', 'v', '/'],
      ['n', 'v;x', '/'],
      ['n', 'v\r\nSet-Cookie: x=y', '/'],
      ['n', 'v', '/a;b'],
    ] as const) {
      expect(() => setCookieHeader(name, value, { path, maxAgeSec: 1, secure: false })).toThrow(TypeError);
    }
  });
});

describe('login cookie settings from the options', () => {
  it('https baseUrl with a path prefix: Secure, paths include the prefix', () => {
    const { cookies } = transactionFor({ baseUrl: 'https://apps.example.ch/my-app' });
    expect(cookies).toEqual({
      callbackPath: '/my-app/oidc/callback',
      loginPath: '/my-app/login',
      secure: true,
      ttlMs: 15 * 60_000,
    });
    const [sealed, marker] = pendingLoginCookies(cookies, 'abcdefghijklmnop', 'x.y.z', 1000);
    expect(sealed).toMatch(
      /^cernsso_login_abcdefghijklmnop=x\.y\.z; Path=\/my-app\/oidc\/callback; Max-Age=900;/,
    );
    expect(sealed).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    expect(marker).toMatch(/^cernsso_pending_abcdefghijklmnop=rs; Path=\/my-app\/login; Max-Age=900;/);
    expect(marker).toMatch(/; Secure$/);
  });

  it('http on localhost: not Secure; custom routes and loginTimeoutMs', () => {
    const { cookies } = transactionFor({
      baseUrl: 'http://localhost:3000',
      routes: { login: '/auth/start', callback: '/auth/back' },
      loginTimeoutMs: 60_000,
    });
    expect(cookies).toEqual({
      callbackPath: '/auth/back',
      loginPath: '/auth/start',
      secure: false,
      ttlMs: 60_000,
    });
  });

  it('a cookie id is a safe cookie-name suffix whatever the state', () => {
    for (const state of ['__proto__', 'a;b=c', '\r\n', 'é'.repeat(1000), '']) {
      expect(loginCookieId(state)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    }
  });
});

describe('cookieSecret', () => {
  it('is validated: at least 32 characters, a non-empty list', () => {
    const short = (() => {
      try {
        resolveSsoConfig({ ...base, baseUrl: 'https://a.example', cookieSecret: 'short' });
      } catch (error) {
        return error as CernSsoError;
      }
      return undefined;
    })();
    expect(short).toBeInstanceOf(CernSsoError);
    expect(short?.message).toMatch(/cookieSecret: must be at least 32 characters/);
    expect(() => resolveSsoConfig({ ...base, baseUrl: 'https://a.example', cookieSecret: [] })).toThrow(
      /cookieSecret: must list at least one secret/,
    );
    expect(() =>
      resolveSsoConfig({ ...base, baseUrl: 'https://a.example', cookieSecret: [SECRET_A, 'short'] }),
    ).toThrow(/cookieSecret\.1: must be at least 32 characters/);
    expect(
      resolveSsoConfig({ ...base, baseUrl: 'https://a.example', cookieSecret: [SECRET_A] }).cookieSecret,
    ).toEqual([SECRET_A]);
  });

  it('keys: HKDF-SHA256 with fixed labels, the same on every instance; cookieSecret replaces the client secret', () => {
    expect(LOGIN_KEY_SALT).toBe('express-cern-sso');
    expect(LOGIN_KEY_INFO).toBe('express-cern-sso login cookie v1');
    const fromClient = loginCookieKeys({ clientSecret: base.clientSecret });
    expect(fromClient).toHaveLength(1);
    expect(fromClient[0]).toHaveLength(32);
    expect(loginCookieKeys({ clientSecret: base.clientSecret })[0]).toEqual(fromClient[0]);
    const fromCookie = loginCookieKeys({ clientSecret: base.clientSecret, cookieSecret: SECRET_A });
    expect(fromCookie[0]).not.toEqual(fromClient[0]);
    const rotated = loginCookieKeys({ clientSecret: base.clientSecret, cookieSecret: [SECRET_B, SECRET_A] });
    expect(rotated).toHaveLength(2);
    expect(rotated[1]).toEqual(fromCookie[0]);
  });

  it('rotation: sealed with the old key, opened with [new, old], refused with [new]', async () => {
    const login = { state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', createdAt: 1_000_000 };
    const [oldKey] = loginCookieKeys({ clientSecret: 'x', cookieSecret: SECRET_A });
    const sealed = await sealPendingLogin(login, oldKey, 60_000);
    const both = loginCookieKeys({ clientSecret: 'x', cookieSecret: [SECRET_B, SECRET_A] });
    await expect(openPendingLogin(sealed, 's', both, 1_000_500, 60_000)).resolves.toEqual(login);
    const onlyNew = loginCookieKeys({ clientSecret: 'x', cookieSecret: [SECRET_B] });
    await expect(openPendingLogin(sealed, 's', onlyNew, 1_000_500, 60_000)).rejects.toMatchObject({
      status: 400,
      code: 'ERR_LOGIN_STATE',
    });
  });
});
