import { Agent, request as httpRequest } from 'node:http';
import * as crypto from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as jose from 'jose';
import { bearerAuth, type BearerAuthOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { call, rawGet, startApp, type RunningApp } from './helpers.js';

// Count signature verifications and token hashes done by the library (the emulator only signs).
vi.mock('jose', async (importOriginal) => {
  const original = await importOriginal<typeof jose>();
  return { ...original, jwtVerify: vi.fn(original.jwtVerify) };
});
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>();
  return { ...original, hash: vi.fn(original.hash) };
});
const jwtVerify = vi.mocked(jose.jwtVerify);
const hash = vi.mocked(crypto.hash);
const tokenHashes = (): number => hash.mock.calls.filter(([algorithm]) => algorithm === 'sha256').length;

const AUDIENCE = 'my-api';
let emulator: CernSsoEmulator;
const apps: RunningApp[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await emulator.close();
});
beforeEach(() => {
  jwtVerify.mockClear();
  hash.mockClear();
});

async function startApi(options: Partial<BearerAuthOptions> = {}): Promise<string> {
  const app = await startApp((express) => {
    express.use(
      bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: recordingLogger(), ...options }),
    );
    // The client port tells which connection a request came on.
    express.get('/', (req, res) => res.json({ login: req.sso.user?.login, port: req.socket.remotePort }));
  });
  apps.push(app);
  return app.url;
}

describe('verified-token cache', () => {
  it('a token is verified once, then served from the cache', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (let i = 0; i < 5; i += 1) expect((await call(url, { token })).json.login).toBe('jdoe');
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('concurrent requests with one token share one verification', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    await Promise.all(Array.from({ length: 10 }, () => call(url, { token })));
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('invalid tokens are not cached', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: 'account' });
    await call(url, { token });
    await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('verifiedTokenCacheMax: 0 verifies every time', async () => {
    const url = await startApi({ verifiedTokenCacheMax: 0 });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    await call(url, { token });
    await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('entries live until exp (on the clock option), then the token is verified again', async () => {
    let clock = Date.now();
    const url = await startApi({ clock: { now: () => clock } });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, expiresInSec: 60 });
    expect((await call(url, { token })).status).toBe(200);
    expect((await call(url, { token })).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
    // Past exp the entry is gone: verified again (still inside the 30 s clock tolerance).
    clock += 61_000;
    expect((await call(url, { token })).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(2);
    // Not cached again (it has expired), and refused beyond the tolerance.
    clock += 30_000;
    const answer = await call(url, { token });
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/expired/);
    expect(jwtVerify).toHaveBeenCalledTimes(3);
  });

  it('the cache is bounded by verifiedTokenCacheMax (least recently used go first)', async () => {
    const url = await startApi({ verifiedTokenCacheMax: 2 });
    const a = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const b = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const c = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (const token of [a, b, a, c]) await call(url, { token });
    expect(jwtVerify).toHaveBeenCalledTimes(3);
    // b was the least recently used: evicted by c; a and c are still cached.
    await call(url, { token: b });
    expect(jwtVerify).toHaveBeenCalledTimes(4);
    await call(url, { token: c });
    expect(jwtVerify).toHaveBeenCalledTimes(4);
  });

  it('a cached token is still refused in a malformed or repeated header, the URL or the body', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await call(url, { token })).status).toBe(200);
    const refused = [
      await call(url, { headers: { authorization: `Bearer ${token} extra` } }),
      await call(url, { headers: { authorization: `Bearer ${token}\u0000`.replace('\u0000', '%') } }),
      await call(`${url}/?access_token=${token}`, { token }),
    ];
    for (const answer of refused) {
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe('ERR_INVALID_REQUEST');
    }
    const twice = await rawGet(url, ['Authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`]);
    expect(twice.status).toBe(400);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('a cached token is served from the cache whatever the case of the scheme and the spaces around it', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (const authorization of [
      `Bearer ${token}`,
      `bearer ${token}`,
      `BEARER  ${token}`,
      `Bearer ${token}  `,
    ]) {
      const answer = await call(url, { headers: { authorization } });
      expect(answer.status).toBe(200);
      expect(answer.json.login).toBe('jdoe');
    }
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });
});

interface Answer {
  status: number;
  json: { login?: string; port?: number; error_description?: string };
}

/** A GET over `agent` with a bearer token. */
function getOn(agent: Agent, url: string, token: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Answer['json'] });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the last valid token of a keep-alive connection', () => {
  let agent: Agent;
  beforeEach(() => {
    // One socket for every request of a test: a keep-alive client, or a proxy's upstream connection.
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
  });
  afterEach(() => {
    agent.destroy();
  });

  /** A GET over the test's single keep-alive connection. */
  const get = (url: string, token: string): Promise<Answer> => getOn(agent, url, token);

  it('is served without hashing it again: the hashes stop growing after the second request', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const answers = [await get(url, token), await get(url, token)];
    const hashesAfterTwo = tokenHashes();
    expect(hashesAfterTwo).toBeGreaterThan(0);
    for (let i = 0; i < 8; i += 1) answers.push(await get(url, token));
    expect(answers.every((answer) => answer.status === 200 && answer.json.login === 'jdoe')).toBe(true);
    // Every request came over one connection (else this test would prove nothing).
    expect(new Set(answers.map((answer) => answer.json.port)).size).toBe(1);
    expect(tokenHashes()).toBe(hashesAfterTwo);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
  });

  it('is compared exactly: a proxy connection alternating users gets each its own identity', async () => {
    const url = await startApi();
    const jdoe = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    const admin = await emulator.issueAccessToken('admin1', { audience: AUDIENCE });
    const logins: (string | undefined)[] = [];
    for (let i = 0; i < 6; i += 1) logins.push((await get(url, i % 2 === 0 ? jdoe : admin)).json.login);
    expect(logins).toEqual(['jdoe', 'admin1', 'jdoe', 'admin1', 'jdoe', 'admin1']);
  });

  it('is compared exactly: the same token with one signature character changed is refused', async () => {
    const url = await startApi();
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    expect((await get(url, token)).status).toBe(200);
    expect((await get(url, token)).status).toBe(200);
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const forged = `${token.slice(0, -2)}${last}${token.slice(-1)}`;
    const answer = await get(url, forged);
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/signature/i);
    expect((await get(url, token)).status).toBe(200);
  });

  it('ends at exp (on the clock option), like the cache entry it was found in', async () => {
    let clock = Date.now();
    const url = await startApi({ clock: { now: () => clock } });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, expiresInSec: 60 });
    for (let i = 0; i < 3; i += 1) expect((await get(url, token)).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(1);
    // Past exp: verified again (inside the 30 s clock tolerance), then refused beyond it.
    clock += 61_000;
    expect((await get(url, token)).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(2);
    clock += 30_000;
    const answer = await get(url, token);
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/expired/);
  });

  it('belongs to one bearerAuth(): a token valid for one audience is refused by another on the same connection', async () => {
    const app = await startApp((express) => {
      for (const audience of ['api-a', 'api-b']) {
        express.get(
          `/${audience}`,
          bearerAuth({ issuer: emulator.issuer, audience, logger: recordingLogger() }),
          (req, res) => res.json({ login: req.sso.user?.login }),
        );
      }
    });
    apps.push(app);
    const token = await emulator.issueAccessToken('jdoe', { audience: 'api-a' });
    for (let i = 0; i < 3; i += 1) expect((await get(`${app.url}/api-a`, token)).status).toBe(200);
    const answer = await get(`${app.url}/api-b`, token);
    expect(answer.status).toBe(401);
    expect(answer.json.error_description).toMatch(/audience|aud/i);
  });

  it('is not kept without the verified-token cache (verifiedTokenCacheMax: 0)', async () => {
    const url = await startApi({ verifiedTokenCacheMax: 0 });
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (let i = 0; i < 3; i += 1) expect((await get(url, token)).status).toBe(200);
    expect(jwtVerify).toHaveBeenCalledTimes(3);
  });
});
