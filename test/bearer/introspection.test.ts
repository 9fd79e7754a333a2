import express from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { bearerAuth, CernSsoError, type BearerAuthOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { postForm } from '../testing/helpers.js';
import { call, startApp, type RunningApp } from './helpers.js';

const AUDIENCE = 'my-api';
const INTROSPECT = '/auth/realms/cern/protocol/openid-connect/token/introspect';

/** A minimal authorization server whose access tokens are opaque (RFC 7662 introspection only). */
interface OpaqueIssuer {
  issuer: string;
  introspections: number;
  /** Answer introspection requests with this status instead. */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** Client authentication with client_secret_basic: both parts form-decoded (RFC 6749 §2.3.1). */
function isBasic(header: string | undefined, id: string, secret: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const part = (value: string): string => decodeURIComponent(value.replace(/\+/g, ' '));
  return colon > 0 && part(decoded.slice(0, colon)) === id && part(decoded.slice(colon + 1)) === secret;
}

async function startOpaqueIssuer(): Promise<OpaqueIssuer> {
  const state = { introspections: 0, failWith: undefined as number | undefined, issuer: '' };
  const now = () => Math.floor(Date.now() / 1000);
  const running = await startApp((app) => {
    app.get('/realms/opaque/.well-known/openid-configuration', (_req, res) => {
      res.json({
        issuer: state.issuer,
        jwks_uri: `${state.issuer}/certs`,
        introspection_endpoint: `${state.issuer}/introspect`,
      });
    });
    app.get('/realms/opaque/certs', (_req, res) => res.json({ keys: [] }));
    app.post('/realms/opaque/introspect', express.urlencoded({ extended: false }), (req, res) => {
      state.introspections += 1;
      if (state.failWith !== undefined) {
        res.status(state.failWith).json({ error: 'server_error' });
        return;
      }
      if (!isBasic(req.get('authorization'), 'api-client', 'api-secret')) {
        res.status(401).json({ error: 'invalid_client' });
        return;
      }
      const token = (req.body as Record<string, string>).token;
      const base = { active: true, iss: state.issuer, sub: 'jdoe', cern_upn: 'jdoe', client_id: 'frontend' };
      const answers: Record<string, Record<string, unknown>> = {
        'opaque-good': {
          ...base,
          aud: AUDIENCE,
          exp: now() + 300,
          token_type: 'Bearer',
          cern_roles: ['user'],
        },
        'opaque-account': { ...base, aud: 'account', exp: now() + 300 },
        'opaque-expired': { ...base, aud: AUDIENCE, exp: now() - 300 },
        'opaque-refresh': { ...base, aud: AUDIENCE, exp: now() + 300, token_type: 'Refresh', typ: 'Refresh' },
        'opaque-no-exp': { ...base, aud: AUDIENCE },
      };
      res.json(answers[token ?? ''] ?? { active: false });
    });
  });
  state.issuer = `${running.url}/realms/opaque`;
  return {
    get issuer() {
      return state.issuer;
    },
    get introspections() {
      return state.introspections;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(value) {
      state.failWith = value;
    },
    close: () => running.close(),
  };
}

let opaque: OpaqueIssuer;
let emulator: CernSsoEmulator;
const apps: RunningApp[] = [];

beforeAll(async () => {
  [opaque, emulator] = await Promise.all([startOpaqueIssuer(), startCernSsoEmulator()]);
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await Promise.all([opaque.close(), emulator.close()]);
});
beforeEach(() => {
  opaque.failWith = undefined;
  emulator.requests.reset();
});

async function startApi(options: Partial<BearerAuthOptions>): Promise<string> {
  const app = await startApp((express) => {
    express.use(bearerAuth({ audience: AUDIENCE, logger: recordingLogger(), ...options }));
    express.get('/', (req, res) => res.json({ login: req.sso.user?.login, claims: req.sso.claims }));
  });
  apps.push(app);
  return app.url;
}

describe('opaque tokens (RFC 7662)', () => {
  const credentials = { clientId: 'api-client', clientSecret: 'api-secret' };

  it('an active token is accepted, and the answer is cached until exp', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials });
    const first = opaque.introspections;
    const answer = await call(url, { token: 'opaque-good' });
    expect(answer.status).toBe(200);
    expect(answer.json.login).toBe('jdoe');
    expect(answer.json.claims).not.toHaveProperty('active');
    expect((await call(url, { token: 'opaque-good' })).status).toBe(200);
    expect(opaque.introspections).toBe(first + 1);
  });

  it('inactive, expired, wrong audience and refresh tokens are 401 invalid_token', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials });
    const cases: [string, RegExp][] = [
      ['opaque-unknown', /not active/],
      ['opaque-expired', /expired/],
      ['opaque-account', /"my-api".*audience mapper/],
      ['opaque-refresh', /not an access token/],
    ];
    for (const [token, description] of cases) {
      const answer = await call(url, { token });
      expect(answer.status, token).toBe(401);
      expect(answer.json.error).toBe('invalid_token');
      expect(answer.json.error_description, token).toMatch(description);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    }
  });

  it('refusals are remembered for 30 s: repeated bad tokens are introspected once each', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials });
    const before = opaque.introspections;
    for (const token of ['opaque-unknown', 'opaque-expired', 'opaque-account']) {
      const answers = await Promise.all([1, 2, 3].map(() => call(url, { token })));
      answers.push(await call(url, { token }));
      for (const answer of answers) {
        expect(answer.status, token).toBe(401);
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      }
    }
    expect(opaque.introspections).toBe(before + 3);
    // A cached refusal answers like the first one.
    expect((await call(url, { token: 'opaque-expired' })).json.error_description).toMatch(/expired/);
    // With the caches disabled, every request is introspected.
    const uncached = await startApi({ issuer: opaque.issuer, ...credentials, verifiedTokenCacheMax: 0 });
    await call(uncached, { token: 'opaque-unknown' });
    await call(uncached, { token: 'opaque-unknown' });
    expect(opaque.introspections).toBe(before + 5);
  });

  it('a refusal is remembered for 30 s on the clock option, then the issuer is asked again', async () => {
    let clock = Date.now();
    const url = await startApi({ issuer: opaque.issuer, ...credentials, clock: { now: () => clock } });
    const before = opaque.introspections;
    expect((await call(url, { token: 'opaque-unknown' })).status).toBe(401);
    clock += 29_999;
    expect((await call(url, { token: 'opaque-unknown' })).json.error_description).toMatch(/not active/);
    expect(opaque.introspections).toBe(before + 1);
    clock += 2;
    expect((await call(url, { token: 'opaque-unknown' })).status).toBe(401);
    expect(opaque.introspections).toBe(before + 2);
  });

  it('refusals are bounded by verifiedTokenCacheMax (least recently used go first)', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials, verifiedTokenCacheMax: 2 });
    const before = opaque.introspections;
    for (const token of ['opaque-a', 'opaque-b', 'opaque-a', 'opaque-c']) await call(url, { token });
    expect(opaque.introspections).toBe(before + 3);
    // opaque-b was the least recently used: evicted by opaque-c.
    await call(url, { token: 'opaque-b' });
    expect(opaque.introspections).toBe(before + 4);
    await call(url, { token: 'opaque-c' });
    expect(opaque.introspections).toBe(before + 4);
  });

  it('an answer without exp is not cached', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials });
    const before = opaque.introspections;
    await call(url, { token: 'opaque-no-exp' });
    await call(url, { token: 'opaque-no-exp' });
    expect(opaque.introspections).toBe(before + 2);
  });

  it('introspection endpoint failing: 503 with Retry-After; failures are not cached', async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials });
    opaque.failWith = 500;
    const down = await call(url, { token: 'opaque-good' });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).not.toBeNull();
    opaque.failWith = undefined;
    expect((await call(url, { token: 'opaque-good' })).status).toBe(200);
    // Nor are outages cached as refusals.
    opaque.failWith = 502;
    expect((await call(url, { token: 'opaque-unknown' })).status).toBe(503);
    opaque.failWith = undefined;
    expect((await call(url, { token: 'opaque-unknown' })).json.error_description).toMatch(/not active/);
  });

  it('refused client credentials are a misconfiguration (500 ERR_IDP_MISCONFIGURED, logged), not the client’s fault', async () => {
    const logger = recordingLogger();
    const url = await startApi({
      issuer: opaque.issuer,
      clientId: 'api-client',
      clientSecret: 'wrong',
      logger,
    });
    const answer = await call(url, { token: 'opaque-good' });
    expect(answer.status).toBe(500);
    expect(answer.headers.get('retry-after')).toBeNull();
    expect(answer.json).toMatchObject({ error: 'server_error', code: 'ERR_IDP_MISCONFIGURED' });
    expect(logger.lines('error')).toHaveLength(1);
    expect(logger.text()).toMatch(
      /option=clientSecret problem=.*\/introspect\) refused the client credentials \(HTTP 401 invalid_client\)/,
    );
    expect(logger.text()).not.toContain('opaque-good');
  });

  it('any other refusal of our introspection request is ours to fix too (500, naming clientId), never a 4xx', async () => {
    const logger = recordingLogger();
    const url = await startApi({ issuer: opaque.issuer, ...credentials, logger });
    opaque.failWith = 400;
    const answer = await call(url, { token: 'opaque-good' });
    expect(answer.status).toBe(500);
    expect(answer.json).toMatchObject({ error: 'server_error', code: 'ERR_IDP_MISCONFIGURED' });
    expect(logger.lines('error')).toEqual([
      expect.stringMatching(/option=clientId problem=.*\/introspect\) refused the request \(HTTP 400/),
    ]);
  });

  it('an issuer without introspection_endpoint is a misconfiguration naming issuer; a non-JSON answer an outage', async () => {
    let issuer = '';
    const upstream = await startApp((app) => {
      app.get('/plain/.well-known/openid-configuration', (_req, res) =>
        res.json({ issuer: `${issuer}/plain` }),
      );
      app.get('/html/.well-known/openid-configuration', (_req, res) =>
        res.json({ issuer: `${issuer}/html`, introspection_endpoint: `${issuer}/html/introspect` }),
      );
      app.post('/html/introspect', (_req, res) => res.type('html').send('<h1>Gateway</h1>'));
    });
    apps.push(upstream);
    issuer = upstream.url;
    const logger = recordingLogger();
    const plain = await startApi({ issuer: `${issuer}/plain`, ...credentials, logger });
    const missing = await call(plain, { token: 'opaque-good' });
    expect(missing.status).toBe(500);
    expect(missing.json.code).toBe('ERR_IDP_MISCONFIGURED');
    expect(logger.lines('error')).toEqual([
      expect.stringMatching(
        new RegExp(`option=issuer problem=${issuer}/plain publishes no introspection_endpoint`),
      ),
    ]);
    const html = await startApi({ issuer: `${issuer}/html`, ...credentials, logger: recordingLogger() });
    const garbled = await call(html, { token: 'opaque-good' });
    expect(garbled.status).toBe(503);
    expect(garbled.json.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(garbled.headers.get('retry-after')).not.toBeNull();
  });

  it('without client credentials: 401 saying introspection needs them, nothing fetched', async () => {
    const url = await startApi({ issuer: opaque.issuer });
    const before = opaque.introspections;
    const answer = await call(url, { token: 'opaque-good' });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toBe(
      'opaque tokens need introspection: configure clientId/clientSecret',
    );
    expect(opaque.introspections).toBe(before);
  });

  it("introspect: 'never' refuses opaque tokens", async () => {
    const url = await startApi({ issuer: opaque.issuer, ...credentials, introspect: 'never' });
    expect((await call(url, { token: 'opaque-good' })).status).toBe(401);
  });

  it('with several issuers, opaque tokens are introspected at the first', async () => {
    const url = await startApi({ issuer: [opaque.issuer, emulator.issuer], ...credentials });
    expect((await call(url, { token: 'opaque-good' })).status).toBe(200);
    expect(emulator.requests.count('/')).toBe(0);
  });
});

describe("the emulator's introspection endpoint", () => {
  const credentials = { clientId: 'demo-app', clientSecret: 'demo-app-secret' };

  it("introspect: 'always' checks JWTs at the issuer (sees revocations) and caches active answers", async () => {
    const url = await startApi({ issuer: emulator.issuer, ...credentials, introspect: 'always' });
    const token = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    expect((await call(url, { token })).json.login).toBe('admin1');
    expect((await call(url, { token })).status).toBe(200);
    expect(emulator.requests.count(INTROSPECT)).toBe(1);
    expect(emulator.requests.count('/auth/realms/cern/protocol/openid-connect/certs')).toBe(0);

    const revoked = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const revocation = await postForm(emulator, '/protocol/openid-connect/revoke', { token: revoked });
    expect(revocation.status).toBe(200);
    const answer = await call(url, { token: revoked });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/not active/);
  });

  it('an unknown opaque string is inactive: 401', async () => {
    const url = await startApi({ issuer: emulator.issuer, ...credentials });
    const answer = await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/not active/);
    expect(emulator.requests.count(INTROSPECT)).toBe(1);
  });

  it('garbage is not amplified onto Keycloak: an inactive answer is cached for 30 s', async () => {
    const url = await startApi({ issuer: emulator.issuer, ...credentials });
    for (let i = 0; i < 10; i += 1) {
      expect((await call(url, { token: 'Z2FyYmFnZQ' })).status).toBe(401);
    }
    await Promise.all([1, 2, 3, 4, 5].map(() => call(url, { token: 'bW9yZS1nYXJiYWdl' })));
    expect(emulator.requests.count(INTROSPECT)).toBe(2);
    // introspect: 'always': a revoked JWT is introspected once, then refused from the cache.
    const always = await startApi({ issuer: emulator.issuer, ...credentials, introspect: 'always' });
    const revoked = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    await postForm(emulator, '/protocol/openid-connect/revoke', { token: revoked });
    for (let i = 0; i < 3; i += 1) expect((await call(always, { token: revoked })).status).toBe(401);
    expect(emulator.requests.count(INTROSPECT)).toBe(3);
  });

  it('a wrong clientSecret: 500 ERR_IDP_MISCONFIGURED, one error line naming clientSecret and the URL, never the secret', async () => {
    const logger = recordingLogger();
    const secret = 'not-the-demo-app-secret';
    const url = await startApi({
      issuer: emulator.issuer,
      clientId: 'demo-app',
      clientSecret: secret,
      logger,
    });
    const answer = await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' });
    expect(answer.status).toBe(500);
    expect(answer.json).toEqual({
      error: 'server_error',
      error_description: expect.stringMatching(/misconfigured/),
      code: 'ERR_IDP_MISCONFIGURED',
    });
    expect(answer.text).not.toMatch(/introspect|clientSecret/);
    const errors = logger.lines('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('clientSecret');
    expect(errors[0]).toContain('clientId');
    expect(errors[0]).toContain(`${emulator.issuer}/protocol/openid-connect/token/introspect`);
    expect(logger.text()).not.toContain(secret);
    expect(logger.text()).not.toContain('c29tZS1vcGFxdWUtdG9rZW4');
    // A misconfiguration is not a refusal of the token: not remembered, asked again.
    expect((await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' })).status).toBe(500);
    expect(emulator.requests.count(INTROSPECT)).toBe(2);
  });

  it('Keycloak answering 429 with Retry-After: 7: 503 with Retry-After: 7, the warning names the URL and the status', async () => {
    const logger = recordingLogger();
    const url = await startApi({ issuer: emulator.issuer, ...credentials, logger });
    emulator.faults.set(INTROSPECT, { status: 429, retryAfterSec: 7, times: 1 });
    const answer = await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' });
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('7');
    expect(answer.json).toMatchObject({ error: 'temporarily_unavailable', code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(logger.lines('warn')).toEqual([
      expect.stringMatching(
        new RegExp(`${emulator.issuer}/protocol/openid-connect/token/introspect.*HTTP 429`),
      ),
    ]);
    // An upstream asking for longer than the library ever sends is bounded (300 s).
    emulator.faults.set(INTROSPECT, { status: 503, retryAfterSec: 86_400, times: 1 });
    const bounded = await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' });
    expect(bounded.status).toBe(503);
    expect(bounded.headers.get('retry-after')).toBe('300');
  });

  it("introspect: 'always' without client credentials is a configuration error", () => {
    expect(() => bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, introspect: 'always' })).toThrow(
      CernSsoError,
    );
  });
});

describe('introspection only by explicit choice (credentials in the environment do not switch it on)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('env credentials and no introspection options: an opaque token is 401, Keycloak is never asked', async () => {
    vi.stubEnv('CERN_SSO_CLIENT_ID', 'demo-app');
    vi.stubEnv('CERN_SSO_CLIENT_SECRET', 'demo-app-secret');
    const url = await startApi({ issuer: emulator.issuer });
    const answer = await call(url, { token: 'c29tZS1vcGFxdWUtdG9rZW4' });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_token');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(emulator.requests.count(INTROSPECT)).toBe(0);
    // JWTs are still verified as usual.
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token })).status).toBe(200);
    expect(emulator.requests.count(INTROSPECT)).toBe(0);
  });

  it('explicit clientId/clientSecret options, or an explicit introspect with env credentials: introspected', async () => {
    const explicit = await startApi({
      issuer: emulator.issuer,
      clientId: 'demo-app',
      clientSecret: 'demo-app-secret',
    });
    expect((await call(explicit, { token: 'b3BhcXVlLW9uZQ' })).json.error_description).toMatch(/not active/);
    expect(emulator.requests.count(INTROSPECT)).toBe(1);
    vi.stubEnv('CERN_SSO_CLIENT_ID', 'demo-app');
    vi.stubEnv('CERN_SSO_CLIENT_SECRET', 'demo-app-secret');
    const chosen = await startApi({ issuer: emulator.issuer, introspect: 'opaque' });
    expect((await call(chosen, { token: 'b3BhcXVlLXR3bw' })).json.error_description).toMatch(/not active/);
    expect(emulator.requests.count(INTROSPECT)).toBe(2);
  });
});

describe('the rate of introspection requests new tokens can cause is bounded', () => {
  const credentials = { clientId: 'demo-app', clientSecret: 'demo-app-secret' };
  /** Distinct, well-formed (RFC 6750 b64token) opaque tokens nobody issued. */
  const garbage = (from: number, count: number): string[] =>
    Array.from({ length: count }, (_, i) => Buffer.from(`garbage-${from + i}`).toString('base64url'));

  async function send(url: string, tokens: readonly string[]) {
    const answers = [];
    // 25 at a time: concurrent, without opening 500 sockets at once.
    for (let i = 0; i < tokens.length; i += 25) {
      answers.push(...(await Promise.all(tokens.slice(i, i + 25).map((token) => call(url, { token })))));
    }
    return answers;
  }

  it('500 distinct garbage tokens: at most the burst (40) reach Keycloak, the rest get 503 without a call', async () => {
    let clock = Date.now();
    const logger = recordingLogger();
    const url = await startApi({
      issuer: emulator.issuer,
      ...credentials,
      logger,
      clock: { now: () => clock },
    });
    const flood = garbage(0, 500);
    const answers = await send(url, flood);
    expect(emulator.requests.count(INTROSPECT)).toBe(40);
    const refused = answers.filter((answer) => answer.status === 401);
    const busy = answers.filter((answer) => answer.status === 503);
    expect(refused).toHaveLength(40);
    expect(busy).toHaveLength(460);
    for (const answer of busy) {
      expect(answer.json.error).toBe('temporarily_unavailable');
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('www-authenticate')).toBeNull();
    }
    // One warning for the whole flood, naming no token.
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(String(logger.lines('warn')[0])).toMatch(
      /too many new tokens to introspect.*\(introspectionsPerSecond=20 refused=1\)/,
    );
    expect(flood.some((token) => logger.text().includes(token))).toBe(false);

    // Refusals already known are answered from the cache, budget or not; valid JWTs are not introspected.
    expect((await call(url, { token: flood[0] ?? '' })).status).toBe(401);
    const jwt = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token: jwt })).status).toBe(200);
    expect(emulator.requests.count(INTROSPECT)).toBe(40);

    // A second later, 20 more; a minute later, the next warning.
    clock += 1000;
    const next = await send(url, garbage(1000, 25));
    expect(next.filter((answer) => answer.status === 401)).toHaveLength(20);
    expect(emulator.requests.count(INTROSPECT)).toBe(60);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    clock += 60_000;
    await send(url, garbage(2000, 45));
    expect(emulator.requests.count(INTROSPECT)).toBe(100);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    // The first warning counted the flood's first refusal; since then 459 + 5 + 1 more.
    expect(String(logger.lines('warn')[1])).toMatch(/ refused=465\)$/);
  });

  it('an opaque token longer than 2048 characters is refused before any request', async () => {
    const url = await startApi({ issuer: emulator.issuer, ...credentials });
    const answer = await call(url, { token: 'a'.repeat(2049) });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/longer than 2048/);
    expect(emulator.requests.count(INTROSPECT)).toBe(0);
  });

  it("introspect: 'always' is bounded too", async () => {
    const clock = Date.now();
    const url = await startApi({
      issuer: emulator.issuer,
      ...credentials,
      introspect: 'always',
      introspectionsPerSecond: 1,
      clock: { now: () => clock },
    });
    const tokens = await Promise.all(
      [1, 2, 3].map(() => emulator.issueAccessToken('jdoe', { audience: AUDIENCE })),
    );
    const answers = [];
    for (const token of tokens) answers.push((await call(url, { token })).status);
    expect(answers).toEqual([200, 200, 503]);
    expect(emulator.requests.count(INTROSPECT)).toBe(2);
  });
});
