import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { fetchJwks, getJson } from './helpers.js';

let emu: CernSsoEmulator;

beforeAll(async () => {
  emu = await startCernSsoEmulator();
});
afterAll(async () => {
  await emu.close();
});

describe('emulator startup', () => {
  it('listens on loopback with a random port and derives issuer and AuthZ URL', () => {
    expect(emu.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.issuer).toBe(`${emu.url}/auth/realms/cern`);
    expect(emu.authzApiUrl).toBe(emu.url);
  });

  it.each(['0.0.0.0', '192.168.1.10', 'example.org', '::', '10.0.0.1'])(
    'refuses non-loopback host %s',
    async (host) => {
      await expect(startCernSsoEmulator({ host })).rejects.toThrow(/loopback/);
    },
  );

  it('accepts localhost and ::1 style hosts and a custom realm', async () => {
    const other = await startCernSsoEmulator({ host: 'localhost', realm: 'cern-qa' });
    try {
      expect(other.url).toMatch(/^http:\/\/localhost:\d+$/);
      expect(other.issuer).toBe(`${other.url}/auth/realms/cern-qa`);
      const doc = await getJson(`${other.issuer}/.well-known/openid-configuration`);
      expect(doc.issuer).toBe(other.issuer);
    } finally {
      await other.close();
    }
  });

  it('rejects invalid options', async () => {
    await expect(startCernSsoEmulator({ port: 70000 })).rejects.toThrow(/port/);
    await expect(startCernSsoEmulator({ accessTokenTtlSec: 0 })).rejects.toThrow(/accessTokenTtlSec/);
  });

  it('close() is idempotent and frees the port', async () => {
    const other = await startCernSsoEmulator();
    await other.close();
    await other.close();
    await expect(fetch(`${other.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});

describe('discovery and JWKS', () => {
  it('publishes Keycloak-shaped OpenID Provider metadata', async () => {
    const response = await fetch(`${emu.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, unknown>;
    const oidc = `${emu.issuer}/protocol/openid-connect`;
    expect(doc).toMatchObject({
      issuer: emu.issuer,
      authorization_endpoint: `${oidc}/auth`,
      token_endpoint: `${oidc}/token`,
      userinfo_endpoint: `${oidc}/userinfo`,
      jwks_uri: `${oidc}/certs`,
      end_session_endpoint: `${oidc}/logout`,
      introspection_endpoint: `${oidc}/token/introspect`,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      id_token_signing_alg_values_supported: ['RS256'],
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      response_types_supported: ['code'],
    });
    expect(doc.grant_types_supported).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ]),
    );
    expect(doc.scopes_supported).toContain('openid');
    expect(doc.claims_supported).toEqual(
      expect.arrayContaining(['cern_upn', 'cern_person_id', 'cern_roles']),
    );
  });

  it('serves RS256 signing keys with kid, use and alg', async () => {
    const jwks = await fetchJwks(emu);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    expect(jwks.keys[0]?.kid).toEqual(expect.any(String));
    expect(jwks.keys[0]?.d).toBeUndefined();
  });

  it('rotates keys: new tokens use the new kid, old keys stay published until removed', async () => {
    const before = await fetchJwks(emu);
    const oldKid = before.keys[0]?.kid ?? '';
    const oldToken = await emu.issueAccessToken('jdoe');
    const newKid = await emu.rotateSigningKey();
    expect(newKid).not.toBe(oldKid);
    const after = await fetchJwks(emu);
    expect(after.keys.map((key) => key.kid)).toEqual([oldKid, newKid]);

    const token = await emu.issueAccessToken('jdoe');
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(after), { issuer: emu.issuer });
    expect(protectedHeader.kid).toBe(newKid);
    // Signing with an explicit older key still works while it is published.
    const pinned = await emu.issueAccessToken('jdoe', { kid: oldKid });
    expect((await jwtVerify(pinned, createLocalJWKSet(after))).protectedHeader.kid).toBe(oldKid);

    expect(() => {
      emu.removeSigningKey(newKid);
    }).toThrow(/active/);
    emu.removeSigningKey(oldKid);
    const final = await fetchJwks(emu);
    expect(final.keys.map((key) => key.kid)).toEqual([newKid]);
    await expect(jwtVerify(oldToken, createLocalJWKSet(final))).rejects.toThrow();
  });

  it('answers unknown paths with a JSON 404', async () => {
    const response = await fetch(`${emu.url}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
