import { createPublicKey } from 'node:crypto';
import { inspect } from 'node:util';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearerAuth } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { codeFlow, fetchJwks } from '../testing/helpers.js';
import { recordingLogger } from '../helpers/app.js';
import {
  call,
  decode,
  hs256WithPublicKey,
  rawGet,
  startApp,
  tamper,
  unsigned,
  type RunningApp,
} from './helpers.js';

const AUDIENCE = 'my-api';

let emulator: CernSsoEmulator;
let untrusted: CernSsoEmulator;
let api: RunningApp;
const logger = recordingLogger();

beforeAll(async () => {
  [emulator, untrusted] = await Promise.all([
    startCernSsoEmulator({ autoLogin: 'jdoe' }),
    startCernSsoEmulator(),
  ]);
  api = await startApp((app) => {
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json());
    app.use('/api', bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger }));
    app.all('/api/me', async (req, res) => {
      res.json({
        authenticated: req.sso.isAuthenticated(),
        user: req.sso.user,
        sub: req.sso.claims?.sub,
        sameToken: (await req.sso.getAccessToken()) === req.get('authorization')?.slice(7),
        // What an app logging or serialising req.sso would write.
        shown: `${inspect(req.sso, { showHidden: true, depth: 5 })} ${JSON.stringify(req.sso)}`,
      });
    });
  });
});
afterAll(async () => {
  await api.close();
  await Promise.all([emulator.close(), untrusted.close()]);
});
beforeEach(() => {
  emulator.requests.reset();
  untrusted.requests.reset();
  emulator.faults.clear();
});

const me = (token?: string, headers?: Record<string, string>) =>
  call(`${api.url}/api/me`, { ...(token === undefined ? {} : { token }), ...(headers ? { headers } : {}) });

/** Asserts an RFC 6750 invalid_token answer that does not echo the token. */
function expectInvalidToken(
  answer: Awaited<ReturnType<typeof me>>,
  description: RegExp,
  token?: string,
): void {
  expect(answer.status).toBe(401);
  const challenge = answer.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]*"$/);
  expect(answer.json.error).toBe('invalid_token');
  expect(String(answer.json.error_description)).toMatch(description);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  if (token !== undefined) expect(answer.text).not.toContain(token);
  expect(answer.text).not.toMatch(/\bat \w+ \(|node_modules/);
}

describe('valid access tokens', () => {
  it('sets req.sso from the token', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answer = await me(token);
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      authenticated: true,
      sub: 'jdoe',
      sameToken: true,
      user: { login: 'jdoe', email: 'john.doe@cern.ch', roles: ['user'] },
    });
  });

  it('req.sso never shows the token when logged or serialised (only getAccessToken() returns it)', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const { json } = await me(token);
    expect(json.sameToken).toBe(true);
    expect(json.shown).toContain('jdoe');
    expect(json.shown).not.toContain(token.split('.')[2]);
  });

  it('accepts any of several audiences, and a token whose aud lists several', async () => {
    const other = await startApp((app) => {
      app.use(bearerAuth({ issuer: emulator.issuer, audience: ['other-api', AUDIENCE], logger }));
      app.get('/', (req, res) => res.json({ login: req.sso.user?.login }));
    });
    try {
      const token = await emulator.issueAccessToken('admin1', { audience: ['account', AUDIENCE] });
      expect((await call(other.url, { token })).json).toEqual({ login: 'admin1' });
    } finally {
      await other.close();
    }
  });

  it('accepts a token within the clock tolerance', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, notBeforeSec: 10 });
    expect((await me(token)).status).toBe(200);
  });
});

describe('missing or malformed credentials', () => {
  it('no Authorization header: 401 with a bare Bearer challenge', async () => {
    const answer = await me();
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('another scheme (no Bearer credentials): 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    for (const authorization of [
      'Basic amRvZTpkZW1v',
      'basic',
      'Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1',
      'Bearerabc',
    ]) {
      const answer = await me(undefined, { authorization });
      expect(answer.status, authorization).toBe(401);
      expect(answer.headers.get('www-authenticate'), authorization).toBe('Bearer');
      expect(answer.json.error).toBe('login_required');
      expect(answer.text).not.toContain('amRvZTpkZW1v');
    }
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('a malformed Bearer header, or no credentials at all: 400 invalid_request', async () => {
    for (const authorization of [
      'Bearer',
      'bearer  ',
      'Bearer a b',
      'Bearer ab"c',
      'Bearer\tabc',
      '"Bearer abc"',
      '=',
    ]) {
      const answer = await me(undefined, { authorization });
      expect(answer.status, authorization).toBe(400);
      expect(answer.json.error).toBe('invalid_request');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_request"/);
    }
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('several Authorization headers: 400', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answer = await rawGet(`${api.url}/api/me`, [
      'host',
      new URL(api.url).host,
      'authorization',
      `Bearer ${token}`,
      'authorization',
      `Bearer ${token}`,
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatch(/several Authorization headers/);
  });

  it('an oversized header: 400, nothing fetched', async () => {
    const answer = await me('a'.repeat(9000));
    expect(answer.status).toBe(400);
    expect(answer.json.error_description).toMatch(/longer than 8192/);
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('a token in the query string or the body is refused, even a valid one', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const query = await call(`${api.url}/api/me?access_token=${token}`);
    expect(query.status).toBe(400);
    expect(query.json).toMatchObject({ error: 'invalid_request' });
    expect(query.json.error_description).toMatch(/tokens in the URL are refused/);
    expect(query.text).not.toContain(token);

    const withHeaderToo = await call(`${api.url}/api/me?access_token=x`, { token });
    expect(withHeaderToo.status).toBe(400);

    const body = await call(`${api.url}/api/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${token}`,
    });
    expect(body.status).toBe(400);
    expect(body.json.error_description).toMatch(/request body are refused/);
  });

  it('a token in a POST body is refused, as a JSON field too, with or without a header', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const post = (body: unknown, withHeader: boolean) =>
      call(`${api.url}/api/me`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        ...(withHeader ? { token } : {}),
      });
    for (const withHeader of [false, true]) {
      const answer = await post({ access_token: token }, withHeader);
      expect(answer.status, String(withHeader)).toBe(400);
      expect(answer.json.error).toBe('invalid_request');
      expect(answer.json.error_description).toMatch(/tokens in the request body are refused/);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_request"/);
      expect(answer.text).not.toContain(token);
    }
    // Other body fields are no problem.
    expect((await post({ note: 'access_token' }, true)).status).toBe(200);
    expect(emulator.requests.count('/auth/realms/cern/protocol/openid-connect/token/introspect')).toBe(0);
  });
});

describe('invalid tokens: 401 invalid_token', () => {
  it('expired', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, expiresInSec: -120 });
    expectInvalidToken(await me(token), /expired/, token);
  });

  it('not yet valid (nbf beyond the tolerance)', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, notBeforeSec: 600 });
    expectInvalidToken(await me(token), /not valid yet/, token);
  });

  it('wrong audience names the expected one', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: 'some-other-api' });
    const answer = await me(token);
    expectInvalidToken(answer, /does not include "my-api"/, token);
    expect(answer.json.error_description).not.toMatch(/mapper/);
  });

  it("Keycloak's default audience `account` gets the audience mapper hint", async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: 'account' });
    const answer = await me(token);
    expectInvalidToken(answer, /"my-api".*Keycloak's default audience.*audience mapper is needed/, token);
    // The challenge header carries the same text, without the quotes a quoted-string cannot hold.
    expect(answer.headers.get('www-authenticate')).toMatch(/'account', Keycloak's default audience/);
  });

  it('an issuer that is not trusted: 401 and no request to anyone', async () => {
    const token = await untrusted.issueAccessToken('jdoe', { audience: AUDIENCE });
    expectInvalidToken(await me(token), /issuer \(iss\) is not trusted/, token);
    const forged = await emulator.issueAccessToken('jdoe', {
      audience: AUDIENCE,
      claims: { iss: 'https://evil.example.org/auth/realms/cern' },
    });
    expectInvalidToken(await me(forged), /not trusted/, forged);
    expect(untrusted.requests.count('/')).toBe(0);
    expect(emulator.requests.count('/')).toBe(0);
  });

  it("a token signed by another realm's key but claiming the trusted issuer", async () => {
    const token = await untrusted.issueAccessToken('jdoe', {
      audience: AUDIENCE,
      claims: { iss: emulator.issuer },
    });
    expectInvalidToken(await me(token), /unknown kid/, token);
    expect(untrusted.requests.count('/')).toBe(0);
  });

  it('alg none', async () => {
    const token = unsigned(await emulator.issueAccessToken('jdoe', { audience: AUDIENCE }));
    expectInvalidToken(await me(token), /alg "none"/, token);
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('HS256 signed with the RSA public key (algorithm confusion)', async () => {
    const genuine = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const [jwk] = (await fetchJwks(emulator)).keys;
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    emulator.requests.reset();
    const forged = await hs256WithPublicKey(genuine, String(pem), String(decode(genuine).header.kid));
    expectInvalidToken(await me(forged), /algorithm is not accepted/, forged);
    expect(emulator.requests.count('/')).toBe(0);
  });

  it('tampered payload', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const forged = tamper(token, { sub: 'admin1', cern_upn: 'admin1', cern_roles: ['admin'] });
    expectInvalidToken(await me(forged), /signature is invalid/, forged);
  });

  it('garbage', async () => {
    for (const garbage of ['garbage', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln']) {
      const answer = await me(garbage);
      expect(answer.status, garbage).toBe(401);
      expect(answer.json.error).toBe('invalid_token');
    }
    expectInvalidToken(await me('eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln'), /malformed/);
    // Not a JWT and no client credentials for introspection.
    expectInvalidToken(
      await me('garbage'),
      /opaque tokens need introspection: configure clientId\/clientSecret/,
    );
  });

  it('ID tokens, refresh tokens and tokens typed otherwise are refused', async () => {
    const { tokens } = await codeFlow(emulator);
    // The API accepts the client's own audience here, as an ID token's aud is the client id.
    const clientApi = await startApp((app) => {
      app.use(bearerAuth({ issuer: emulator.issuer, audience: ['demo-app', AUDIENCE], logger }));
      app.get('/', (_req, res) => res.json({ ok: true }));
    });
    try {
      expectInvalidToken(await call(clientApi.url, { token: tokens.id_token }), /ID tokens are refused/);
      expectInvalidToken(
        await call(clientApi.url, { token: tokens.refresh_token }),
        /algorithm is not accepted/,
      );
      expect((await call(clientApi.url, { token: tokens.access_token })).status).toBe(200);
      const logoutTyped = await emulator.issueAccessToken('jdoe', {
        audience: AUDIENCE,
        claims: { typ: 'Logout' },
      });
      expectInvalidToken(await call(clientApi.url, { token: logoutTyped }), /logout tokens are refused/);
    } finally {
      await clientApi.close();
    }
  });

  it('the azp allow-list', async () => {
    const restricted = await startApp((app) => {
      app.use(bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, azp: ['frontend-app'], logger }));
      app.get('/', (_req, res) => res.json({ ok: true }));
    });
    try {
      const fromDemo = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
      expectInvalidToken(await call(restricted.url, { token: fromDemo }), /azp/);
      const fromFrontend = await emulator.issueAccessToken('jdoe', {
        audience: AUDIENCE,
        claims: { azp: 'frontend-app' },
      });
      expect((await call(restricted.url, { token: fromFrontend })).status).toBe(200);
    } finally {
      await restricted.close();
    }
  });

  it('never logs a token', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: 'account' });
    await me(token);
    expect(logger.text()).not.toContain(token);
  });
});

describe('JOSE header parameters and claims that must not be trusted', () => {
  it('an unknown critical header parameter (crit): 401 invalid_token', async () => {
    const token = await emulator.issueAccessToken('jdoe', {
      audience: AUDIENCE,
      header: { crit: ['urn:example:unknown'], 'urn:example:unknown': true },
    });
    expectInvalidToken(await me(token), /crit/, token);
    // The same token without crit is fine: it is the extension that is refused.
    expect((await me(await emulator.issueAccessToken('jdoe', { audience: AUDIENCE }))).status).toBe(200);
  });

  it('jku and x5u are ignored: keys only ever come from the issuer’s discovered jwks_uri', async () => {
    const elsewhere = {
      jku: `${untrusted.issuer}/protocol/openid-connect/certs`,
      x5u: `${untrusted.url}/cert.pem`,
    };
    // Signed by the trusted issuer: accepted, and the URLs in the header are never fetched.
    const genuine = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, header: elsewhere });
    expect((await me(genuine)).status).toBe(200);
    // Signed by another key that the jku URL does publish: refused, and still nothing fetched there.
    const forged = await untrusted.issueAccessToken('admin1', {
      audience: AUDIENCE,
      claims: { iss: emulator.issuer },
      header: elsewhere,
    });
    expectInvalidToken(await me(forged), /unknown kid/, forged);
    expect(untrusted.requests.count('/')).toBe(0);
    expect(emulator.requests.count('/auth/realms/cern/protocol/openid-connect/certs')).toBeGreaterThan(0);
  });

  it('an iss with a trailing slash is another issuer: 401, nothing fetched', async () => {
    const token = await emulator.issueAccessToken('jdoe', {
      audience: AUDIENCE,
      claims: { iss: `${emulator.issuer}/` },
    });
    expectInvalidToken(await me(token), /issuer \(iss\) is not trusted/, token);
    expect(emulator.requests.count('/')).toBe(0);
  });
});

describe('several trusted issuers', () => {
  it('accepts tokens of each, with each its own keys', async () => {
    const multi = await startApp((app) => {
      app.use(bearerAuth({ issuer: [emulator.issuer, untrusted.issuer], audience: AUDIENCE, logger }));
      app.get('/', (req, res) => res.json({ iss: req.sso.claims?.iss }));
    });
    try {
      const a = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
      const b = await untrusted.issueAccessToken('jdoe', { audience: AUDIENCE });
      expect((await call(multi.url, { token: a })).json).toEqual({ iss: emulator.issuer });
      expect((await call(multi.url, { token: b })).json).toEqual({ iss: untrusted.issuer });
    } finally {
      await multi.close();
    }
  });
});
