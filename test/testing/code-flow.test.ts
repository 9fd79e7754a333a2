import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_PASSWORD,
  demoClient,
  startCernSsoEmulator,
  type CernSsoEmulator,
} from 'express-cern-sso/testing';
import { EDUGAIN_LOGIN } from '../../src/testing/seed.js';
import { SESSION_COOKIE } from '../../src/testing/sso-cookie.js';
import {
  CookieJar,
  REDIRECT_URI,
  TOKEN_PATH,
  authorize,
  claimsOf,
  codeFlow,
  codeRequest,
  formAction,
  headerOf,
  pkce,
  postForm,
  submitLogin,
} from './helpers.js';

let emu: CernSsoEmulator;

beforeAll(async () => {
  emu = await startCernSsoEmulator();
});
afterEach(() => {
  emu.setAutoLogin(false);
});
afterAll(async () => {
  await emu.close();
});

async function exchange(code: string, verifier: string, redirectUri = REDIRECT_URI) {
  return postForm(emu, TOKEN_PATH, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
}

describe('authorization endpoint: form login', () => {
  it('shows the login form, rejects a wrong password, accepts the right one and issues a code', async () => {
    const jar = new CookieJar();
    const { verifier, challenge } = pkce();
    const request = codeRequest(challenge);
    const page = await authorize(emu, request, jar);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('CERN Single Sign-On (emulator)');
    expect(html).toMatch(/<input[^>]*name="username"/);
    expect(html).toMatch(
      /<input[^>]*name="password"[^>]*type="password"|<input[^>]*type="password"[^>]*name="password"/,
    );
    expect(html).toMatch(/<button[^>]*type="submit"/);
    const action = formAction(html, emu.url);

    const wrong = await submitLogin(action, 'jdoe', 'not-the-password', jar);
    expect(wrong.status).toBe(401);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('Invalid username or password.');
    expect(wrongHtml).toContain('value="jdoe"');
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);

    const right = await submitLogin(formAction(wrongHtml, emu.url), 'jdoe', DEMO_PASSWORD, jar);
    expect(right.status).toBe(302);
    const location = new URL(right.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe(request.state);
    expect(location.searchParams.get('iss')).toBe(emu.issuer);
    expect(location.searchParams.get('session_state')).toEqual(expect.any(String));
    const code = location.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    const setCookie =
      right.headers.getSetCookie().find((line) => line.startsWith(`${SESSION_COOKIE}=`)) ?? '';
    expect(setCookie).toMatch(/Path=\/auth\/realms\/cern\//);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);

    const { status, body, response } = await exchange(code, verifier);
    expect(status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      refresh_expires_in: 1800,
      session_state: location.searchParams.get('session_state'),
      'not-before-policy': 0,
      scope: 'openid profile email',
    });

    // ID token: verified against the published JWKS, CERN claims.
    const jwks = createRemoteJWKSet(new URL(`${emu.issuer}/protocol/openid-connect/certs`));
    const { payload: id } = await jwtVerify(body.id_token, jwks, {
      issuer: emu.issuer,
      audience: 'demo-app',
    });
    expect(id).toMatchObject({
      sub: 'jdoe',
      cern_upn: 'jdoe',
      cern_person_id: 123456,
      name: 'John Doe',
      given_name: 'John',
      family_name: 'Doe',
      email: 'john.doe@cern.ch',
      preferred_username: 'jdoe',
      cern_preferred_language: 'EN',
      cern_roles: ['user'],
      resource_access: { 'demo-app': { roles: ['user'] } },
      azp: 'demo-app',
      typ: 'ID',
      nonce: request.nonce,
      sid: location.searchParams.get('session_state'),
      session_state: location.searchParams.get('session_state'),
    });
    expect(id.at_hash).toEqual(expect.any(String));
    expect(id.auth_time).toEqual(expect.any(Number));
    expect(id.groups).toBeUndefined();

    // Access token: a JWT with typ Bearer, aud = client.
    const { payload: at, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: emu.issuer });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(at).toMatchObject({
      typ: 'Bearer',
      aud: 'demo-app',
      azp: 'demo-app',
      sub: 'jdoe',
      scope: 'openid profile email',
    });
    expect(at.nonce).toBeUndefined();
    expect(at.jti).toEqual(expect.any(String));

    // The SSO cookie logs the user in without a form next time (same session).
    const again = await authorize(emu, codeRequest(pkce().challenge), jar);
    expect(again.status).toBe(302);
    expect(new URL(again.headers.get('location') ?? '').searchParams.get('session_state')).toBe(
      location.searchParams.get('session_state'),
    );
    expect(emu.sessions('jdoe').some((session) => session.clients.includes('demo-app'))).toBe(true);
  });

  it('accepts the e-mail address as username and refuses disabled accounts', async () => {
    const page = await authorize(emu, codeRequest(pkce().challenge));
    const action = formAction(await page.text(), emu.url);
    const disabled = await submitLogin(action, 'kmuller', DEMO_PASSWORD);
    expect(disabled.status).toBe(401);
    expect(await disabled.text()).toContain('Account is disabled');
    const byEmail = await submitLogin(action, 'Marie.Martin@cern.ch', DEMO_PASSWORD);
    expect(byEmail.status).toBe(302);
  });

  it('a pending login cannot be used twice or after it is unknown', async () => {
    const page = await authorize(emu, codeRequest(pkce().challenge));
    const action = formAction(await page.text(), emu.url);
    expect((await submitLogin(action, 'jdoe', DEMO_PASSWORD)).status).toBe(302);
    const second = await submitLogin(action, 'jdoe', DEMO_PASSWORD);
    expect(second.status).toBe(400);
    expect(await second.text()).toContain('login attempt timed out');
  });

  it('prompt=login forces the form even with a session; prompt=none without session is login_required', async () => {
    const jar = new CookieJar();
    emu.setAutoLogin('jdoe');
    await codeFlow(emu, { jar });
    emu.setAutoLogin(false);
    const forced = await authorize(emu, codeRequest(pkce().challenge, { prompt: 'login' }), jar);
    expect(forced.status).toBe(200);
    expect(await forced.text()).toContain('name="password"');

    const silent = await authorize(emu, codeRequest(pkce().challenge, { prompt: 'none', state: 's1' }));
    expect(silent.status).toBe(302);
    const location = new URL(silent.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe('s1');
    expect(location.searchParams.get('iss')).toBe(emu.issuer);

    const silentWithSession = await authorize(emu, codeRequest(pkce().challenge, { prompt: 'none' }), jar);
    expect(new URL(silentWithSession.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();
  });

  it('pre-fills login_hint and escapes it', async () => {
    const page = await authorize(emu, codeRequest(pkce().challenge, { login_hint: '"><script>x</script>' }));
    const html = await page.text();
    expect(html).not.toContain('<script>x</script>');
    expect(html).toContain('&#34;&#62;&#60;script&#62;');
  });
});

describe('authorization endpoint: validation', () => {
  it('shows an HTML error (no redirect) for an unknown client or an unregistered redirect_uri', async () => {
    const { challenge } = pkce();
    const unknown = await authorize(emu, codeRequest(challenge, { client_id: 'nope' }));
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('location')).toBeNull();
    expect(await unknown.text()).toContain('Client not found.');

    const evil = await authorize(emu, codeRequest(challenge, { redirect_uri: 'https://evil.example/cb' }));
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
    expect(await evil.text()).toContain('Invalid parameter: redirect_uri');

    const missing = await authorize(emu, codeRequest(challenge, { redirect_uri: undefined }));
    expect(missing.status).toBe(400);
  });

  it.each([
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge_method: undefined }, 'invalid_request'],
    [{ code_challenge: undefined }, 'invalid_request'],
    [{ code_challenge: 'short' }, 'invalid_request'],
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ scope: 'profile email' }, 'invalid_scope'],
    [{ prompt: 'none login' }, 'invalid_request'],
  ] as const)('redirects %o with error %s, state and iss', async (override, error) => {
    const response = await authorize(emu, codeRequest(pkce().challenge, { ...override, state: 'keep-me' }));
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('error_description')).toEqual(expect.any(String));
    expect(location.searchParams.get('state')).toBe('keep-me');
    expect(location.searchParams.get('iss')).toBe(emu.issuer);
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('supports Keycloak trailing-* redirect URI wildcards and keeps the redirect URI query', async () => {
    emu.registerClient({
      clientId: 'wild',
      clientSecret: 'wild-secret',
      redirectUris: ['http://127.0.0.1:4000/app/*'],
    });
    emu.setAutoLogin('jdoe');
    const ok = await authorize(
      emu,
      codeRequest(pkce().challenge, { client_id: 'wild', redirect_uri: 'http://127.0.0.1:4000/app/cb?x=1' }),
    );
    expect(ok.status).toBe(302);
    const location = new URL(ok.headers.get('location') ?? '');
    expect(location.searchParams.get('x')).toBe('1');
    expect(location.searchParams.get('code')).toBeTruthy();
    const bad = await authorize(
      emu,
      codeRequest(pkce().challenge, { client_id: 'wild', redirect_uri: 'http://127.0.0.1:4000/other' }),
    );
    expect(bad.status).toBe(400);
  });
});

describe('auto-login', () => {
  it('issues a code without a form, for the configured user', async () => {
    emu.setAutoLogin('admin1');
    const { tokens } = await codeFlow(emu);
    expect(claimsOf(tokens.id_token)).toMatchObject({ sub: 'admin1', cern_roles: ['admin', 'user'] });
    emu.setAutoLogin('mmartin');
    const { tokens: other } = await codeFlow(emu);
    expect(claimsOf(other.id_token)).toMatchObject({
      sub: 'mmartin',
      cern_preferred_language: 'FR',
      cern_roles: [],
    });
  });

  it('switches user even when the browser has a session of another user', async () => {
    const jar = new CookieJar();
    emu.setAutoLogin('jdoe');
    await codeFlow(emu, { jar });
    emu.setAutoLogin('admin1');
    const { tokens } = await codeFlow(emu, { jar });
    expect(claimsOf(tokens.id_token).sub).toBe('admin1');
  });

  it('works as a start option and reports an unknown user clearly', async () => {
    const other = await startCernSsoEmulator({ autoLogin: 'nobody' });
    try {
      const response = await authorize(other, codeRequest(pkce().challenge));
      expect(response.status).toBe(500);
      expect(await response.text()).toContain('autoLogin user');
    } finally {
      await other.close();
    }
  });

  it('omits cern_person_id for eduGAIN users and keeps the / in sub', async () => {
    emu.setAutoLogin(EDUGAIN_LOGIN);
    const { tokens } = await codeFlow(emu);
    const claims = claimsOf(tokens.id_token);
    expect(claims.sub).toBe(EDUGAIN_LOGIN);
    expect(claims.sub).toContain('/');
    expect(claims.cern_person_id).toBeUndefined();
  });

  it('adds the precomputed groups (with nesting) when the client enables the groups claim', async () => {
    emu.registerClient({
      ...demoClient,
      clientId: 'groups-app',
      clientSecret: 'groups-secret',
      groupsClaim: true,
    });
    emu.setAutoLogin('admin1');
    const { verifier, challenge } = pkce();
    const response = await authorize(emu, codeRequest(challenge, { client_id: 'groups-app' }));
    const code = new URL(response.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const { body } = await postForm(
      emu,
      TOKEN_PATH,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      { authorization: `Basic ${Buffer.from('groups-app:groups-secret').toString('base64')}` },
    );
    const expected = ['cern-staff', 'cern-users-demo', 'it-dep', 'it-dep-admins'];
    expect(claimsOf(body.id_token).groups).toEqual(expected);
    expect(claimsOf(body.access_token).groups).toEqual(expected);
  });
});

describe('token endpoint: authorization_code', () => {
  it('a replayed code fails and revokes the tokens issued from it', async () => {
    emu.setAutoLogin('jdoe');
    const { verifier, challenge } = pkce();
    const response = await authorize(emu, codeRequest(challenge));
    const code = new URL(response.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    const replay = await exchange(code, verifier);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');

    const refresh = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe('invalid_grant');
    const introspection = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: first.body.access_token });
    expect(introspection.body).toEqual({ active: false });
  });

  it('checks redirect_uri, the PKCE verifier and the client', async () => {
    emu.setAutoLogin('jdoe');
    const newCode = async () => {
      const { verifier, challenge } = pkce();
      const response = await authorize(emu, codeRequest(challenge));
      return {
        code: new URL(response.headers.get('location') ?? '').searchParams.get('code') ?? '',
        verifier,
      };
    };
    let c = await newCode();
    expect((await exchange(c.code, c.verifier, 'http://localhost:3000/other')).body).toMatchObject({
      error: 'invalid_grant',
      error_description: 'Incorrect redirect_uri',
    });
    c = await newCode();
    expect((await exchange(c.code, pkce().verifier)).body.error).toBe('invalid_grant');
    c = await newCode();
    const noVerifier = await postForm(emu, TOKEN_PATH, {
      grant_type: 'authorization_code',
      code: c.code,
      redirect_uri: REDIRECT_URI,
    });
    expect(noVerifier.body.error).toBe('invalid_grant');
    expect((await exchange('garbage', c.verifier)).body.error).toBe('invalid_grant');

    emu.registerClient({ clientId: 'other', clientSecret: 'other-secret', redirectUris: [REDIRECT_URI] });
    c = await newCode();
    const stolen = await postForm(
      emu,
      TOKEN_PATH,
      {
        grant_type: 'authorization_code',
        code: c.code,
        redirect_uri: REDIRECT_URI,
        code_verifier: c.verifier,
      },
      { authorization: `Basic ${Buffer.from('other:other-secret').toString('base64')}` },
    );
    expect(stolen.body.error).toBe('invalid_grant');
    // The legitimate client can still redeem it.
    expect((await exchange(c.code, c.verifier)).status).toBe(200);
  });

  it('ID tokens carry headers and claims a strict client expects', async () => {
    emu.setAutoLogin('jdoe');
    const { tokens } = await codeFlow(emu);
    expect(headerOf(tokens.id_token)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    const claims = claimsOf(tokens.id_token);
    expect(claims.exp - claims.iat).toBe(300);
    expect(claims.aud).toBe('demo-app');
    expect(claims.iss).toBe(emu.issuer);
  });
});
