/**
 * What a login asked Keycloak for (`prompt`, `max_age`, `acr_values`) travels in the sealed
 * pending login to the callback, which decides silent-login returns and the `auth_time` check on
 * it: recorded values come back, values of the wrong shape are ignored.
 */
import { EncryptJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loginCookieKeys } from '../../src/auth/login-key.js';
import { openPendingLogin, sealPendingLogin, type PendingLogin } from '../../src/auth/login-seal.js';

const TTL = 15 * 60_000;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const keys = loginCookieKeys({ clientSecret: 'pending-login-params-secret' });
const BASE: PendingLogin = {
  state: 'state-0123456789',
  nonce: 'nonce-0123456789',
  codeVerifier: 'verifier-0123456789',
  returnTo: '/x',
  createdAt: NOW,
  binding: 'binding-digest',
};

describe('the recorded authorization parameters of a pending login', () => {
  it('come back as sealed', async () => {
    const login: PendingLogin = { ...BASE, prompt: 'none', maxAge: 0, acrValues: 'urn:cern:2fa 2' };
    const sealed = await sealPendingLogin(login, keys[0], TTL);
    expect(await openPendingLogin(sealed, BASE.state, keys, NOW, TTL)).toEqual(login);
  });

  it('are absent when none were sent', async () => {
    const sealed = await sealPendingLogin(BASE, keys[0], TTL);
    const opened = await openPendingLogin(sealed, BASE.state, keys, NOW, TTL);
    expect(opened).toEqual(BASE);
    expect(Object.keys(opened)).not.toContain('prompt');
  });

  it.each([
    ['prompt', 'always'],
    ['prompt', ['none']],
    ['maxAge', -1],
    ['maxAge', 1.5],
    ['maxAge', '60'],
    ['maxAge', 1e12],
    ['acrValues', ''],
    ['acrValues', 2],
  ])('%s = %j of the wrong shape is ignored', async (name, value) => {
    const sealed = await new EncryptJWT({ ...BASE, [name]: value })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt(Math.floor(NOW / 1000))
      .setExpirationTime(Math.ceil((NOW + TTL) / 1000))
      .encrypt(keys[0]);
    expect(await openPendingLogin(sealed, BASE.state, keys, NOW, TTL)).toEqual(BASE);
  });
});
