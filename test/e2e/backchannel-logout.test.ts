import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT, UnsecuredJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const JSON_ACCEPT = { accept: 'application/json' };
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const nowSec = () => Math.floor(Date.now() / 1000);
let emulator: CernSsoEmulator;
let app: TestApp;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, { clientId: 'bcl-app' });
  const client = emulator.clients.get('bcl-app')!;
  emulator.registerClient({ ...client, backchannelLogoutUri: `${app.baseUrl}/oidc/backchannel-logout` });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});

async function signedIn(login: string): Promise<TestBrowser> {
  emulator.setAutoLogin(login);
  const browser = new TestBrowser();
  expect((await browser.navigate(`${app.baseUrl}/login`)).body).toBe(`home of ${login}`);
  return browser;
}

async function postLogoutToken(token: string | undefined): Promise<Response> {
  return fetch(`${app.baseUrl}/oidc/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: token === undefined ? '' : new URLSearchParams({ logout_token: token }).toString(),
  });
}

describe('back-channel logout', () => {
  // The emulator delivers tokens as Keycloak does (JOSE typ logout+jwt, a jti, sid and sub).
  it('a logout at the IdP ends the session in the app', async () => {
    const browser = await signedIn('jdoe');
    const other = await signedIn('mmartin');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
    emulator.requests.reset();
    await emulator.endSsoSessions('jdoe');
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
    expect(me.status).toBe(401);
    // Other users' sessions are untouched.
    expect((await other.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });

  it('a later login of the same user is not affected by an old logout', async () => {
    const browser = await signedIn('admin1');
    await emulator.endSsoSessions('admin1');
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
    const again = await signedIn('admin1');
    expect((await again.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });

  it.each([
    ['no logout_token', undefined, /logout_token is required/],
    ['garbage', 'not-a-jwt', /invalid logout_token/],
    ['an access token (no back-channel event)', 'ACCESS', /back-channel logout event|invalid logout_token/],
  ])('answers 400 with a reason for %s', async (_name, token, reason) => {
    const value =
      token === 'ACCESS'
        ? await emulator.issueAccessToken('jdoe', { clientId: 'bcl-app', audience: 'bcl-app' })
        : token;
    const response = await postLogoutToken(value);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(reason);
  });
});

/**
 * A logout token signed with the emulator's realm key, valid for client `bcl-app` unless a claim
 * is overridden (`undefined` removes it). Built on the emulator's access-token signer.
 */
async function logoutToken(claims: Record<string, unknown> = {}): Promise<string> {
  const iat = nowSec();
  return emulator.issueAccessToken('jdoe', {
    clientId: 'bcl-app',
    audience: 'bcl-app',
    expiresInSec: 120,
    claims: {
      typ: 'Logout',
      iat,
      sid: randomUUID(),
      events: { [EVENT]: {} },
      scope: undefined,
      ...claims,
    },
  });
}

/** The payload of a valid logout token, to re-sign with keys and algorithms of our own. */
async function validPayload(): Promise<Record<string, unknown>> {
  const [, payload = ''] = (await logoutToken()).split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function expectRefused(token: string, reason: RegExp): Promise<void> {
  const response = await postLogoutToken(token);
  const body = (await response.json()) as { error: string; error_description: string };
  expect({ status: response.status, ...body }).toMatchObject({
    status: 400,
    error: 'invalid_request',
    error_description: expect.stringMatching(reason) as unknown,
  });
}

describe('logout_token validation (OIDC Back-Channel Logout 1.0, 2.6)', () => {
  it('accepts the reference token that the refusals below each change in one way', async () => {
    const response = await postLogoutToken(await logoutToken());
    expect(response.status).toBe(200);
    // Only sub (no sid) is enough too.
    expect((await postLogoutToken(await logoutToken({ sid: undefined }))).status).toBe(200);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a wrong aud', { aud: 'another-app' }, /invalid logout_token: .*"aud"/],
    ['a wrong iss', { iss: 'https://auth.cern.ch/auth/realms/evil' }, /invalid logout_token: .*"iss"/],
    ['a nonce', { nonce: 'n-0S6_WzA2Mj' }, /must not contain a nonce/],
    ['neither sid nor sub', { sid: undefined, sub: undefined }, /neither a sid nor a sub/],
    ['no events claim', { events: undefined }, /no events claim/],
    ['an events claim that is a string', { events: EVENT }, /no events claim/],
    ['an events claim that is an array', { events: [EVENT] }, /no events claim/],
    [
      'another event URI',
      { events: { 'http://schemas.openid.net/event/other': {} } },
      /back-channel logout event/,
    ],
    ['an event member that is not an object', { events: { [EVENT]: 'yes' } }, /back-channel logout event/],
    [
      'an iat beyond the max age plus tolerance',
      { iat: nowSec() - 300 - 30 - 60 },
      /invalid logout_token: .*"iat"/,
    ],
    ['no iat', { iat: undefined }, /invalid logout_token: .*"iat"/],
    ['an expired exp', { iat: nowSec() - 100, exp: nowSec() - 60 }, /invalid logout_token: .*"exp"/],
  ])('refuses a token with %s', async (_name, claims, reason) => {
    await expectRefused(await logoutToken(claims), reason);
  });

  it('refuses a token signed by a foreign key (unknown kid, and the realm kid)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const payload = await validPayload();
    const foreign = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: 'not-in-the-jwks', typ: 'logout+jwt' })
      .sign(privateKey);
    await expectRefused(foreign, /invalid logout_token: .*\(ERR_JWKS_NO_MATCHING_KEY\)/);
    const { kid } = decodeProtectedHeader(await logoutToken());
    const impostor = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: String(kid), typ: 'logout+jwt' })
      .sign(privateKey);
    await expectRefused(impostor, /invalid logout_token: .*\(ERR_JWS_SIGNATURE_VERIFICATION_FAILED\)/);
  });

  it('refuses alg none and HS256', async () => {
    const payload = await validPayload();
    await expectRefused(new UnsecuredJWT(payload).encode(), /invalid logout_token: .*"alg"/);
    const hs256 = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' })
      .sign(new TextEncoder().encode('bcl-app-secret-bcl-app-secret-32'));
    await expectRefused(hs256, /invalid logout_token: .*"alg"/);
  });
});

/** A raw POST (fetch cannot send every charset / length combination we need). */
function rawPost(
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; type: string }> {
  const url = new URL(`${app.baseUrl}/oidc/backchannel-logout`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text, type: String(res.headers['content-type']) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('back-channel logout request bodies the form parser refuses', () => {
  it.each<[string, string | Buffer, Record<string, string>, RegExp]>([
    [
      'an unsupported charset',
      'logout_token=x',
      { 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' },
      /unsupported charset/,
    ],
    [
      'a body over the limit',
      `logout_token=${'a'.repeat(40 * 1024)}`,
      { 'content-type': 'application/x-www-form-urlencoded' },
      /larger than 32kb/,
    ],
    [
      'an unsupported content encoding',
      'logout_token=x',
      { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'compress' },
      /unsupported content encoding/,
    ],
    [
      'a malformed (truncated gzip) body',
      Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01]),
      { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      /could not be read/,
    ],
  ])('answers 400 invalid_request JSON (no stack trace) for %s', async (_name, body, headers, reason) => {
    const response = await rawPost(body, headers);
    expect(response.status).toBe(400);
    expect(response.type).toMatch(/application\/json/);
    expect(response.text).not.toMatch(/ at .*\.js|<pre>|Error:/);
    expect(JSON.parse(response.text)).toEqual({
      error: 'invalid_request',
      error_description: expect.stringMatching(reason),
      code: 'ERR_INVALID_REQUEST',
    });
  });
});

describe('logout tokens: jti, replay, typ, claim types', () => {
  it('a replayed token (same jti) is refused the second time, with its own reason', async () => {
    const token = await logoutToken();
    expect((await postLogoutToken(token)).status).toBe(200);
    await expectRefused(token, /used before \(replayed jti\)/);
    // The same jti in another (fresh) token is the same token as far as replay goes.
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      jti: string;
    };
    await expectRefused(await logoutToken({ jti }), /replayed jti/);
  });

  it('two concurrent deliveries of one token: one 200, one 400', async () => {
    const token = await logoutToken();
    const statuses = (await Promise.all([postLogoutToken(token), postLogoutToken(token)])).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([200, 400]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no jti', { jti: undefined }, /no jti claim/],
    ['an empty jti', { jti: '' }, /no jti claim/],
    ['a jti that is a number', { jti: 42 }, /no jti claim/],
    ['a sid that is not a string', { sid: 42 }, /sid claim must be a non-empty string/],
    [
      'a sub that is an object',
      { sid: undefined, sub: { id: 'jdoe' } },
      /sub claim must be a non-empty string/,
    ],
    [
      'an exp in the past (iat recent)',
      { iat: nowSec() - 10, exp: nowSec() - 31 },
      /invalid logout_token: .*"exp"/,
    ],
  ])('refuses a token with %s', async (_name, claims, reason) => {
    await expectRefused(await logoutToken(claims), reason);
  });

  it.each(['logout+jwt', 'JWT', 'application/logout+jwt', 'Logout+JWT'])(
    'accepts the JOSE header typ %s',
    async (typ) => {
      const token = await emulator.issueAccessToken('jdoe', {
        clientId: 'bcl-app',
        audience: 'bcl-app',
        claims: { typ: 'Logout', sid: randomUUID(), events: { [EVENT]: {} }, scope: undefined },
        header: { typ },
      });
      expect((await postLogoutToken(token)).status).toBe(200);
    },
  );

  it.each(['at+jwt', 'secevent+jwt', 'constructor'])('refuses the JOSE header typ %s', async (typ) => {
    const token = await emulator.issueAccessToken('jdoe', {
      clientId: 'bcl-app',
      audience: 'bcl-app',
      claims: { typ: 'Logout', sid: randomUUID(), events: { [EVENT]: {} }, scope: undefined },
      header: { typ },
    });
    await expectRefused(token, /JOSE header typ/);
  });

  it('a logout_token form field sent twice is refused', async () => {
    const token = await logoutToken();
    const response = await fetch(`${app.baseUrl}/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${token}&logout_token=${token}`,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error_description: 'logout_token must be sent once' });
  });
});

describe('a logout is recorded at the token iat', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a sub logout at iat T ends sign-ins made before T, not one made after T', async () => {
    // Only Date is faked (timers and sockets stay real): sign-ins at chosen times, in the past
    // so that no later test of this file signs in "before" the logout.
    const t0 = Date.now() - 120_000;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const before = await signedIn('mmartin');
    vi.setSystemTime(t0 + 10_000);
    const after = await signedIn('mmartin');
    const iat = Math.floor((t0 + 5_000) / 1000);
    const token = await emulator.issueAccessToken('mmartin', {
      clientId: 'bcl-app',
      audience: 'bcl-app',
      claims: {
        typ: 'Logout',
        iat,
        exp: iat + 120,
        events: { [EVENT]: {} },
        scope: undefined,
        sid: undefined,
      },
    });
    expect((await postLogoutToken(token)).status).toBe(200);
    expect((await before.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
    expect((await after.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(200);
  });

  it('a sid logout ends that Keycloak session even if the token is dated before the sign-in', async () => {
    const browser = await signedIn('lnguyen');
    const [ssoSession] = emulator.sessions('lnguyen');
    const token = await logoutToken({ sid: ssoSession?.sid, iat: nowSec() - 60 });
    expect((await postLogoutToken(token)).status).toBe(200);
    expect((await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT })).status).toBe(401);
  });
});
