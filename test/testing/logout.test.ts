import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { SESSION_COOKIE } from '../../src/testing/sso-cookie.js';
import {
  CookieJar,
  TOKEN_PATH,
  authorize,
  claimsOf,
  codeFlow,
  codeRequest,
  fetchJwks,
  pkce,
  postForm,
  startRecorder,
} from './helpers.js';

let emu: CernSsoEmulator;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
const LOGOUT_PATH = '/protocol/openid-connect/logout';

beforeAll(async () => {
  emu = await startCernSsoEmulator({ autoLogin: 'jdoe' });
  recorder = await startRecorder();
});
beforeEach(() => {
  recorder.received.length = 0;
  emu.registerClient({ ...demoClient, backchannelLogoutUri: `${recorder.url}/oidc/backchannel-logout` });
  emu.setAutoLogin('jdoe');
});
afterAll(async () => {
  await emu.close();
  await recorder.close();
});

function logoutUrl(params: Record<string, string>): string {
  return `${emu.issuer}${LOGOUT_PATH}?${new URLSearchParams(params).toString()}`;
}

describe('end-session endpoint', () => {
  it('ends the SSO session, sends a back-channel logout token, then redirects with state', async () => {
    const jar = new CookieJar();
    const { tokens } = await codeFlow(emu, { jar });
    const sid = claimsOf(tokens.id_token).sid;
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(true);

    const response = await fetch(
      logoutUrl({
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: 'http://localhost:3000/',
        state: 'bye',
      }),
      { redirect: 'manual', headers: jar.header() },
    );
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('http://localhost:3000/?state=bye');
    jar.update(response);
    expect(jar.cookies.has(SESSION_COOKIE)).toBe(false);

    // Delivered before the redirect (awaited, best effort).
    expect(recorder.received).toHaveLength(1);
    const [delivery] = recorder.received;
    expect(delivery?.path).toBe('/oidc/backchannel-logout');
    expect(delivery?.contentType).toMatch(/application\/x-www-form-urlencoded/);
    const logoutToken = delivery?.body.get('logout_token') ?? '';
    const jwks = createLocalJWKSet(await fetchJwks(emu));
    const { payload, protectedHeader } = await jwtVerify(logoutToken, jwks, {
      issuer: emu.issuer,
      audience: 'demo-app',
      typ: 'logout+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({
      sub: 'jdoe',
      sid,
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.nonce).toBeUndefined();

    // Session is over: refresh fails, the access token is inactive, and the browser must log in again.
    const refresh = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refresh.body).toMatchObject({ error: 'invalid_grant', error_description: 'Session not active' });
    const introspection = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: tokens.access_token });
    expect(introspection.body.active).toBe(false);
    emu.setAutoLogin(false);
    const again = await authorize(emu, codeRequest(pkce().challenge), jar);
    expect(again.status).toBe(200);
    expect(emu.sessions('jdoe')).toHaveLength(0);
  });

  it('works by POST and with only the cookie; shows a logged-out page without redirect', async () => {
    const jar = new CookieJar();
    await codeFlow(emu, { jar });
    const response = await fetch(`${emu.issuer}${LOGOUT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...jar.header() },
      body: '',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('You are logged out');
    expect(recorder.received).toHaveLength(1);
    expect(emu.sessions('jdoe')).toHaveLength(0);
  });

  it('accepts an expired id_token_hint', async () => {
    const short = await startCernSsoEmulator({ autoLogin: 'jdoe', accessTokenTtlSec: 1 });
    try {
      const { tokens } = await codeFlow(short);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 5000);
      const response = await fetch(
        `${short.issuer}${LOGOUT_PATH}?${new URLSearchParams({
          id_token_hint: tokens.id_token,
          post_logout_redirect_uri: 'http://localhost:3000/bye',
        }).toString()}`,
        { redirect: 'manual' },
      );
      expect(response.status).toBe(302);
      expect(short.sessions()).toHaveLength(0);
    } finally {
      vi.useRealTimers();
      await short.close();
    }
  });

  it('refuses an unregistered post_logout_redirect_uri, a forged hint and a redirect without client', async () => {
    const { tokens } = await codeFlow(emu);
    const evil = await fetch(
      logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://evil.example/' }),
      { redirect: 'manual' },
    );
    expect(evil.status).toBe(400);
    expect(evil.headers.get('location')).toBeNull();
    expect(await evil.text()).toContain('Invalid redirect uri');

    const forged = `${tokens.id_token.slice(0, -4)}AAAA`;
    const badHint = await fetch(logoutUrl({ id_token_hint: forged }), { redirect: 'manual' });
    expect(badHint.status).toBe(400);

    const noClient = await fetch(logoutUrl({ post_logout_redirect_uri: 'http://localhost:3000/' }), {
      redirect: 'manual',
    });
    expect(noClient.status).toBe(400);

    const withClientId = await fetch(
      logoutUrl({ client_id: 'demo-app', post_logout_redirect_uri: 'http://localhost:3000/x' }),
      { redirect: 'manual' },
    );
    expect(withClientId.status).toBe(302);
    // The session from the first flow is still alive (nothing identified it).
    expect(emu.sessions('jdoe').length).toBeGreaterThan(0);
    await emu.endSsoSessions('jdoe');
  });
});

describe('endSsoSessions()', () => {
  it('ends every session of the user and notifies each client that has a session', async () => {
    await codeFlow(emu);
    await codeFlow(emu);
    emu.setAutoLogin('admin1');
    await codeFlow(emu);
    expect(emu.sessions('jdoe')).toHaveLength(2);

    await emu.endSsoSessions('jdoe');
    expect(emu.sessions('jdoe')).toHaveLength(0);
    expect(emu.sessions('admin1')).toHaveLength(1);
    expect(recorder.received).toHaveLength(2);
    const sids = recorder.received.map((entry) => claimsOf(entry.body.get('logout_token') ?? '').sid);
    expect(new Set(sids).size).toBe(2);
    await emu.endSsoSessions('admin1');
  });

  it('does not fail when the back-channel endpoint is down', async () => {
    emu.registerClient({ ...demoClient, backchannelLogoutUri: 'http://127.0.0.1:1/unreachable' });
    await codeFlow(emu);
    await expect(emu.endSsoSessions('jdoe')).resolves.toBeUndefined();
    expect(emu.sessions('jdoe')).toHaveLength(0);
  });
});
