import { describe, expect, it } from 'vitest';
import { CernSsoError } from 'express-cern-sso';
import { resolveSsoConfig } from '../../src/config.js';
import {
  bindingCookie,
  bindingCookieName,
  bindingDigest,
  bindingMatches,
  newBinding,
  readBinding,
} from '../../src/auth/browser-binding.js';
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

describe('the browser-binding cookie', () => {
  it('on https: named __Host-cernsso_browser, Path=/, Secure, HttpOnly, SameSite=Lax, no Domain, a session cookie', () => {
    expect(bindingCookieName(true)).toBe('__Host-cernsso_browser');
    const value = newBinding();
    expect(bindingCookie(value, true)).toBe(
      `__Host-cernsso_browser=${value}; Path=/; HttpOnly; SameSite=Lax; Secure`,
    );
  });

  it('on http (loopback development): cernsso_browser, without Secure (browsers refuse __Host- there)', () => {
    expect(bindingCookieName(false)).toBe('cernsso_browser');
    const value = newBinding();
    expect(bindingCookie(value, false)).toBe(`cernsso_browser=${value}; Path=/; HttpOnly; SameSite=Lax`);
  });

  it('a new value is 16 random bytes, base64url (22 characters), different every time', () => {
    const values = new Set(Array.from({ length: 100 }, newBinding));
    expect(values.size).toBe(100);
    for (const value of values) expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('on https only the __Host- name is read: a tossed cernsso_browser is ignored', () => {
    const own = newBinding();
    const tossed = newBinding();
    const cookies = new Map([
      ['cernsso_browser', tossed],
      ['__Host-cernsso_browser', own],
    ]);
    expect(readBinding(cookies, true)).toBe(own);
    expect(readBinding(new Map([['cernsso_browser', tossed]]), true)).toBeUndefined();
    expect(readBinding(cookies, false)).toBe(tossed);
    expect(readBinding(new Map([['__Host-cernsso_browser', own]]), false)).toBeUndefined();
  });

  it('a value of another shape is not a binding', () => {
    for (const value of [
      '',
      'short',
      `${'a'.repeat(22)}=`,
      'a'.repeat(23),
      `${'a'.repeat(21)}.`,
      '__proto__',
    ]) {
      expect(readBinding(new Map([['__Host-cernsso_browser', value]]), true)).toBeUndefined();
    }
  });

  it('matches only the value whose digest was sealed', () => {
    const value = newBinding();
    const digest = bindingDigest(value);
    expect(digest).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(bindingMatches(digest, value)).toBe(true);
    expect(bindingMatches(digest, newBinding())).toBe(false);
    expect(bindingMatches(digest, undefined)).toBe(false);
    expect(bindingMatches(undefined, value)).toBe(false);
    expect(bindingMatches(value, value)).toBe(false);
    expect(bindingMatches(`${digest}x`, value)).toBe(false);
  });

  it('the Set-Cookie builder without maxAgeSec makes a session cookie (no Max-Age, no Expires)', () => {
    expect(setCookieHeader('n', 'v', { path: '/', secure: false })).toBe(
      'n=v; Path=/; HttpOnly; SameSite=Lax',
    );
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
    const login = {
      state: 's',
      nonce: 'n',
      codeVerifier: 'v',
      returnTo: '/',
      createdAt: 1_000_000,
      binding: bindingDigest('b'.repeat(22)),
    };
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
