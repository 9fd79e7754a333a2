import { Agent, request as httpRequest } from 'node:http';
import * as crypto from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as jose from 'jose';
import { bearerAuth, type BearerAuthOptions } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { startApp, type RunningApp } from './helpers.js';

// Count verifications and token hashes done by the library (the emulator signs, never hashes).
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
let agent: Agent;

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
  // One socket for every request of a test: a keep-alive client, or a proxy's upstream connection.
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
});
afterEach(() => {
  agent.destroy();
});

interface Answer {
  status: number;
  json: { login?: string; port?: number; error_description?: string };
}

/** A GET over the test's single keep-alive connection. */
function get(url: string, token: string): Promise<Answer> {
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

/** An API answering the token's login and the client port of the connection it came on. */
async function startApi(options: Partial<BearerAuthOptions> = {}): Promise<string> {
  const app = await startApp((express) => {
    express.use(
      bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: recordingLogger(), ...options }),
    );
    express.get('/', (req, res) => res.json({ login: req.sso.user?.login, port: req.socket.remotePort }));
  });
  apps.push(app);
  return `${app.url}/`;
}

describe('the last valid token of a keep-alive connection', () => {
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
