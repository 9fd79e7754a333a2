import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { DEMO_CLIENT, TOKEN_PATH, basic, claimsOf, codeFlow, postForm } from './helpers.js';

let emu: CernSsoEmulator;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

beforeAll(async () => {
  emu = await startCernSsoEmulator({ autoLogin: 'jdoe' });
  emu.registerClient({
    clientId: 'other-api',
    clientSecret: 'other-secret',
    redirectUris: ['http://127.0.0.1:1/cb'],
    roles: { jdoe: ['reader'] },
  });
});
afterEach(() => {
  emu.setAutoLogin('jdoe');
});
afterAll(async () => {
  await emu.close();
});

describe('client authentication', () => {
  it('accepts client_secret_basic and client_secret_post', async () => {
    const viaBasic = await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' });
    expect(viaBasic.status).toBe(200);
    const viaPost = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'client_credentials', client_id: DEMO_CLIENT.id, client_secret: DEMO_CLIENT.secret },
      {},
    );
    expect(viaPost.status).toBe(200);
  });

  it('rejects a known client with a wrong secret with 401 unauthorized_client, as Keycloak does', async () => {
    const wrong = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'client_credentials' },
      basic('demo-app', 'nope'),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('unauthorized_client');
    // Keycloak sends no challenge with it, even after Basic authentication.
    expect(wrong.response.headers.get('www-authenticate')).toBeNull();
    const post = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'client_credentials', client_id: 'demo-app', client_secret: 'nope' },
      {},
    );
    expect(post.status).toBe(401);
    expect(post.body.error).toBe('unauthorized_client');
    const noSecret = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'client_credentials', client_id: 'demo-app' },
      {},
    );
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error).toBe('unauthorized_client');
  });

  it('a wrong secret: introspection says 401 invalid_client, revocation 401 unauthorized_client, as Keycloak does', async () => {
    const introspection = await postForm(
      emu,
      `${TOKEN_PATH}/introspect`,
      { token: 'x' },
      basic('demo-app', 'nope'),
    );
    expect(introspection.status).toBe(401);
    expect(introspection.body.error).toBe('invalid_client');
    const revocation = await postForm(
      emu,
      '/protocol/openid-connect/revoke',
      { token: 'x' },
      basic('demo-app', 'nope'),
    );
    expect(revocation.status).toBe(401);
    expect(revocation.body.error).toBe('unauthorized_client');
    expect(revocation.response.headers.get('www-authenticate')).toBeNull();
  });

  it('rejects unknown, missing and mismatching clients with 401 invalid_client', async () => {
    const none = await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' }, {});
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
    const unknown = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'client_credentials' },
      basic('ghost', 'x'),
    );
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
    const mismatch = await postForm(emu, TOKEN_PATH, {
      grant_type: 'client_credentials',
      client_id: 'other-api',
    });
    expect(mismatch.status).toBe(401);
  });

  it('answers OAuth JSON errors for bad requests', async () => {
    const noGrant = await postForm(emu, TOKEN_PATH, {});
    expect(noGrant.status).toBe(400);
    expect(noGrant.body.error).toBe('invalid_request');
    const unsupported = await postForm(emu, TOKEN_PATH, { grant_type: 'password' });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error).toBe('unsupported_grant_type');
    const duplicated = await postForm(emu, TOKEN_PATH, {
      grant_type: ['client_credentials', 'client_credentials'],
    });
    expect(duplicated.body.error).toBe('invalid_request');
  });
});

describe('refresh_token grant', () => {
  it('issues new access, ID and refresh tokens; an already used refresh token fails', async () => {
    const { tokens } = await codeFlow(emu);
    const first = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(first.status).toBe(200);
    expect(first.body.access_token).not.toBe(tokens.access_token);
    expect(first.body.refresh_token).not.toBe(tokens.refresh_token);
    expect(first.body.id_token).toEqual(expect.any(String));
    expect(first.response.headers.get('cache-control')).toBe('no-store');
    const idClaims = claimsOf(first.body.id_token);
    expect(idClaims.sub).toBe('jdoe');
    expect(idClaims.nonce).toBeUndefined();
    expect(idClaims.sid).toBe(claimsOf(tokens.id_token).sid);
    expect(claimsOf(first.body.refresh_token)).toMatchObject({ typ: 'Refresh', azp: 'demo-app' });

    const reuse = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    // The rotated one still works.
    const second = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
    });
    expect(second.status).toBe(200);
  });

  it('allows reuse when revokeRefreshTokens is false', async () => {
    const relaxed = await startCernSsoEmulator({ autoLogin: 'jdoe', revokeRefreshTokens: false });
    try {
      const { tokens } = await codeFlow(relaxed);
      for (let i = 0; i < 2; i++) {
        const again = await postForm(relaxed, TOKEN_PATH, {
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token,
        });
        expect(again.status).toBe(200);
      }
    } finally {
      await relaxed.close();
    }
  });

  it('rejects unknown, foreign, expired tokens and ended sessions', async () => {
    const garbage = await postForm(emu, TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: 'nope' });
    expect(garbage.body.error).toBe('invalid_grant');

    const { tokens } = await codeFlow(emu);
    const foreign = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      basic('other-api', 'other-secret'),
    );
    expect(foreign.body.error).toBe('invalid_grant');

    await emu.endSsoSessions('jdoe');
    const ended = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(ended.status).toBe(400);
    expect(ended.body).toMatchObject({ error: 'invalid_grant', error_description: 'Session not active' });
  });

  it('refresh tokens expire after refreshTokenTtlSec', async () => {
    const short = await startCernSsoEmulator({ autoLogin: 'jdoe', refreshTokenTtlSec: 1 });
    try {
      const { tokens } = await codeFlow(short);
      expect(tokens.refresh_expires_in).toBe(1);
      // Only Date is faked: sockets and timers stay real.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 2100);
      const late = await postForm(short, TOKEN_PATH, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
      expect(late.status).toBe(400);
      expect(late.body.error).toBe('invalid_grant');
    } finally {
      vi.useRealTimers();
      await short.close();
    }
  });
});

describe('client_credentials and api-access', () => {
  it('client_credentials gives a service-account access token without refresh token', async () => {
    const { status, body } = await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300, refresh_expires_in: 0 });
    expect(body.refresh_token).toBeUndefined();
    expect(claimsOf(body.access_token)).toMatchObject({
      sub: 'service-account-demo-app',
      azp: 'demo-app',
      aud: 'demo-app',
      typ: 'Bearer',
    });
  });

  it('api-access/token issues AuthZ API tokens (aud authorization-service-api) usable on the API', async () => {
    const { status, body } = await postForm(emu, '/api-access/token', {
      grant_type: 'client_credentials',
      audience: 'authorization-service-api',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 1200 });
    const claims = claimsOf(body.access_token);
    expect(claims).toMatchObject({ aud: 'authorization-service-api', azp: 'demo-app', iss: emu.issuer });
    expect(claims.exp - claims.iat).toBe(1200);
    await expect(emu.verifyApiToken(body.access_token)).resolves.toMatchObject({ azp: 'demo-app' });

    const api = await fetch(`${emu.authzApiUrl}/api/v1.0/Identity/jdoe`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(api.status).toBe(200);
    expect(((await api.json()) as { data: { upn: string } }).data.upn).toBe('jdoe');
  });

  it('api-access/token requires the audience and client credentials grant', async () => {
    const missing = await postForm(emu, '/api-access/token', { grant_type: 'client_credentials' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
    const wrongGrant = await postForm(emu, '/api-access/token', {
      grant_type: 'refresh_token',
      audience: 'authorization-service-api',
    });
    expect(wrongGrant.body.error).toBe('unsupported_grant_type');
    const badClient = await postForm(
      emu,
      '/api-access/token',
      { grant_type: 'client_credentials', audience: 'authorization-service-api' },
      basic('demo-app', 'bad'),
    );
    expect(badClient.status).toBe(401);
  });

  it('apiTokenTtlSec is configurable; normal access tokens are not API tokens', async () => {
    const other = await startCernSsoEmulator({ apiTokenTtlSec: 60 });
    try {
      const { body } = await postForm(other, '/api-access/token', {
        grant_type: 'client_credentials',
        audience: 'authorization-service-api',
      });
      expect(body.expires_in).toBe(60);
      const userToken = await other.issueAccessToken('jdoe');
      await expect(other.verifyApiToken(userToken)).rejects.toThrow(/audience/);
      const api = await fetch(`${other.url}/api/v1.0/Identity/jdoe`, {
        headers: { authorization: `Bearer ${userToken}` },
      });
      expect(api.status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('token exchange (RFC 8693)', () => {
  it('exchanges a user access token for another audience', async () => {
    const { tokens } = await codeFlow(emu);
    const { status, body } = await postForm(emu, TOKEN_PATH, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'other-api',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', issued_token_type: ACCESS_TOKEN_TYPE });
    const claims = claimsOf(body.access_token);
    expect(claims).toMatchObject({
      sub: 'jdoe',
      aud: 'other-api',
      azp: 'demo-app',
      typ: 'Bearer',
      cern_roles: ['reader'],
    });

    const unknown = await postForm(emu, TOKEN_PATH, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'not-registered-anywhere',
    });
    expect(unknown.status).toBe(200);
    expect(claimsOf(unknown.body.access_token).aud).toBe('not-registered-anywhere');

    const api = await postForm(emu, TOKEN_PATH, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: tokens.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: 'authorization-service-api',
    });
    await expect(emu.verifyApiToken(api.body.access_token)).resolves.toMatchObject({ sub: 'jdoe' });
  });

  it('rejects a missing audience, an invalid subject token and foreign clients', async () => {
    const { tokens } = await codeFlow(emu);
    const base = { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE };
    const noAudience = await postForm(emu, TOKEN_PATH, { ...base, subject_token: tokens.access_token });
    expect(noAudience.status).toBe(400);
    expect(noAudience.body.error).toBe('invalid_request');
    const emptyAudience = await postForm(emu, TOKEN_PATH, {
      ...base,
      subject_token: tokens.access_token,
      audience: '',
    });
    expect(emptyAudience.status).toBe(400);
    const bad = await postForm(emu, TOKEN_PATH, { ...base, subject_token: 'nope', audience: 'other-api' });
    // Keycloak 26's standard token exchange: an invalid subject token is invalid_request.
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    const idAsSubject = await postForm(emu, TOKEN_PATH, {
      ...base,
      subject_token: tokens.id_token,
      audience: 'x',
    });
    expect(idAsSubject.status).toBe(400);
    const foreign = await postForm(
      emu,
      TOKEN_PATH,
      { ...base, subject_token: tokens.access_token, audience: 'x' },
      basic('other-api', 'other-secret'),
    );
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('access_denied');
  });
});

describe('introspection, userinfo, revocation', () => {
  it('introspects active access and refresh tokens, inactive for anything else', async () => {
    const { tokens } = await codeFlow(emu);
    const access = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: tokens.access_token });
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({
      active: true,
      client_id: 'demo-app',
      username: 'jdoe',
      token_type: 'Bearer',
      sub: 'jdoe',
      aud: 'demo-app',
      iss: emu.issuer,
      scope: 'openid profile email',
    });
    expect(access.body.exp).toEqual(expect.any(Number));
    expect(access.body.iat).toEqual(expect.any(Number));
    const refresh = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: tokens.refresh_token });
    expect(refresh.body).toMatchObject({ active: true, token_type: 'Refresh' });
    for (const token of [
      'garbage',
      tokens.id_token,
      await emu.issueAccessToken('jdoe', { expiresInSec: -10 }),
    ]) {
      const inactive = await postForm(emu, `${TOKEN_PATH}/introspect`, { token });
      expect(inactive.body).toEqual({ active: false });
    }
    const unauthenticated = await postForm(
      emu,
      `${TOKEN_PATH}/introspect`,
      { token: tokens.access_token },
      {},
    );
    expect(unauthenticated.status).toBe(401);
  });

  it('userinfo returns the profile for a valid bearer token and 401 otherwise', async () => {
    const { tokens } = await codeFlow(emu);
    const ok = await fetch(`${emu.issuer}/protocol/openid-connect/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ sub: 'jdoe', email: 'john.doe@cern.ch', cern_person_id: 123456 });
    const bad = await fetch(`${emu.issuer}/protocol/openid-connect/userinfo`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const none = await fetch(`${emu.issuer}/protocol/openid-connect/userinfo`, { method: 'POST' });
    expect(none.status).toBe(401);
  });

  it('revocation of a refresh token revokes its grant', async () => {
    const { tokens } = await codeFlow(emu);
    const revoked = await postForm(emu, '/protocol/openid-connect/revoke', { token: tokens.refresh_token });
    expect(revoked.status).toBe(200);
    const refresh = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refresh.body.error).toBe('invalid_grant');
    const access = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: tokens.access_token });
    expect(access.body.active).toBe(false);
  });
});

describe('issueAccessToken()', () => {
  it('signs bearer tokens with audience, lifetime, nbf and extra claims', async () => {
    const token = await emu.issueAccessToken('admin1', {
      audience: ['my-api', 'other'],
      expiresInSec: 60,
      notBeforeSec: 30,
      claims: { scope: 'custom', extra: 1 },
    });
    const claims = claimsOf(token);
    expect(claims).toMatchObject({
      sub: 'admin1',
      aud: ['my-api', 'other'],
      azp: 'demo-app',
      typ: 'Bearer',
      scope: 'custom',
      extra: 1,
      cern_roles: ['admin', 'user'],
      iss: emu.issuer,
    });
    expect(claims.exp - claims.iat).toBe(60);
    expect(claims.nbf - claims.iat).toBe(30);
    expect(claims.sid).toBeUndefined();
    await expect(emu.issueAccessToken('ghost')).rejects.toThrow(/unknown user/);
    const expired = claimsOf(await emu.issueAccessToken('jdoe', { expiresInSec: -60 }));
    expect(expired.exp).toBeLessThan(Date.now() / 1000);
    expect(expired.iat).toBeLessThan(expired.exp);
  });
});
