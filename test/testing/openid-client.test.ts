import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { REDIRECT_URI } from './helpers.js';

// Plain http is fine for a loopback emulator; the API is deprecated only to stand out.
function allowInsecureRequests(config: client.Configuration): void {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  client.allowInsecureRequests(config);
}

// A strict, certified RP library against the emulator: if these pass, real apps' flows will too.
let emu: CernSsoEmulator;
let basicConfig: client.Configuration;
let postConfig: client.Configuration;

async function discover(auth: client.ClientAuth): Promise<client.Configuration> {
  const config = await client.discovery(new URL(emu.issuer), demoClient.clientId, undefined, auth, {
    // openid-client compares the function itself, so pass the original.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    execute: [client.allowInsecureRequests],
  });
  return config;
}

beforeAll(async () => {
  emu = await startCernSsoEmulator({ autoLogin: 'jdoe' });
  basicConfig = await discover(client.ClientSecretBasic(demoClient.clientSecret));
  postConfig = await discover(client.ClientSecretPost(demoClient.clientSecret));
});
afterAll(async () => {
  await emu.close();
});

/** Authorization request → redirect (fetch, no browser) → callback URL. */
async function callbackUrl(
  config: client.Configuration,
  checks: { state: string; nonce: string; verifier: string },
) {
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email',
    state: checks.state,
    nonce: checks.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(checks.verifier),
    code_challenge_method: 'S256',
  });
  const response = await fetch(url, { redirect: 'manual' });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location') ?? '');
}

describe.each([
  ['client_secret_basic', () => basicConfig],
  ['client_secret_post', () => postConfig],
])('openid-client with %s', (_name, config) => {
  it('completes the code flow with PKCE, state, nonce and RFC 9207 iss checks, then refreshes', async () => {
    const checks = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
    };
    const current = await callbackUrl(config(), checks);
    const tokens = await client.authorizationCodeGrant(config(), current, {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    expect(claims).toMatchObject({ sub: 'jdoe', cern_upn: 'jdoe', cern_roles: ['user'], iss: emu.issuer });
    expect(tokens.expires_in).toBe(300);

    const refreshed = await client.refreshTokenGrant(config(), tokens.refresh_token ?? '');
    expect(refreshed.claims()?.sub).toBe('jdoe');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    const userinfo = await client.fetchUserInfo(config(), refreshed.access_token, 'jdoe');
    expect(userinfo.email).toBe('john.doe@cern.ch');

    const introspection = await client.tokenIntrospection(config(), refreshed.access_token);
    expect(introspection).toMatchObject({ active: true, sub: 'jdoe', client_id: 'demo-app' });

    const logout = client.buildEndSessionUrl(config(), {
      id_token_hint: tokens.id_token ?? '',
      post_logout_redirect_uri: 'http://localhost:3000/',
    });
    const response = await fetch(logout, { redirect: 'manual' });
    expect(response.status).toBe(302);
    await expect(client.refreshTokenGrant(config(), refreshed.refresh_token ?? '')).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('rejects a missing or wrong iss in the authorization response', async () => {
    for (const fault of [{ omitIss: true }, { wrongIss: true }]) {
      emu.faults.set('/auth/realms/cern/protocol/openid-connect/auth', { ...fault, times: 1 });
      const checks = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        verifier: client.randomPKCECodeVerifier(),
      };
      const current = await callbackUrl(config(), checks);
      await expect(
        client.authorizationCodeGrant(config(), current, {
          pkceCodeVerifier: checks.verifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
        }),
      ).rejects.toThrow();
    }
  });

  it('client credentials, API token and token exchange', async () => {
    const cc = await client.clientCredentialsGrant(config());
    expect(cc.token_type.toLowerCase()).toBe('bearer');

    const apiConfig = new client.Configuration(
      { issuer: emu.issuer, token_endpoint: `${emu.issuer}/api-access/token` },
      demoClient.clientId,
      demoClient.clientSecret,
    );
    allowInsecureRequests(apiConfig);
    const api = await client.clientCredentialsGrant(apiConfig, { audience: 'authorization-service-api' });
    await expect(emu.verifyApiToken(api.access_token)).resolves.toMatchObject({ azp: 'demo-app' });

    const subject = await emu.issueAccessToken('mmartin');
    const exchanged = await client.genericGrantRequest(
      config(),
      'urn:ietf:params:oauth:grant-type:token-exchange',
      {
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'authorization-service-api',
      },
    );
    await expect(emu.verifyApiToken(exchanged.access_token)).resolves.toMatchObject({ sub: 'mmartin' });
  });
});
