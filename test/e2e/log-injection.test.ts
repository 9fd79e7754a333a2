import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CernSsoError } from '../../src/errors.js';
import { cernSsoErrorHandler } from '../../src/error-handler.js';
import { createIdentityProvider } from '../../src/identity/identity-provider.js';
import type { IdentityProvider } from '../../src/identity/types.js';
import { userSearchHandler } from '../../src/identity/user-search-handler.js';
import { startCernSsoEmulator, type CernSsoEmulator } from '../../src/testing/index.js';
import { logLine } from '../helpers/log-lines.js';

/** A JWT as an upstream might echo it back in an error. */
const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqZG9lIiwiZXhwIjoxOTAwMDAwMDAwfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const INJECTION = `\r\n[ERROR] fake line ${JWT}\u2028\u202e`;
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/;
// eslint-disable-next-line no-control-regex
const LINE_BREAKING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Each call of the logger as one string, what a line-oriented log would hold, and as JSON, what
 * a structured log (pino) would hold.
 */
function lineLogger(): { lines: string[]; json: string[]; debug: Log; info: Log; warn: Log; error: Log } {
  const lines: string[] = [];
  const json: string[] = [];
  const log: Log = (...args) => {
    lines.push(logLine(args));
    json.push(JSON.stringify(args));
  };
  return { lines, json, debug: log, info: log, warn: log, error: log };
}
type Log = (...args: unknown[]) => void;

/** Upstreams that answer every request with an error carrying the injection. */
function hostileUpstream(): Express {
  const upstream = express();
  upstream.post('/token', (_req, res) => {
    res
      .status(400)
      .json({ error: `invalid_client${INJECTION}`, error_description: `bad secret${INJECTION}` });
  });
  upstream.use('/api/v1.0', (_req, res) => {
    res
      .status(403)
      .set('x-upstream-note', 'see body')
      .json({ message: `Forbidden${INJECTION}` });
  });
  return upstream;
}

let emulator: CernSsoEmulator;
let upstream: Server;
let upstreamUrl: string;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  upstream = hostileUpstream().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => upstream.once('listening', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((resolve) =>
    upstream.close(() => {
      resolve();
    }),
  );
  await emulator.close();
});

function appWith(identity: IdentityProvider, logger: ReturnType<typeof lineLogger>): Express {
  const app = express();
  app.get('/api/users', userSearchHandler(identity, { requireLogin: false }));
  app.get('/boom', () => {
    throw new Error(`boom${INJECTION}`);
  });
  app.use(cernSsoErrorHandler({ handleAll: true, logger }));
  return app;
}

function provider(
  logger: ReturnType<typeof lineLogger>,
  overrides: Record<string, string>,
): IdentityProvider {
  return createIdentityProvider({
    clientId: 'demo-app',
    clientSecret: 'demo-app-secret',
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger,
    ...overrides,
  });
}

function expectCleanLog({ lines, json }: { lines: readonly string[]; json: readonly string[] }): void {
  for (const call of json) expect(call).not.toMatch(JWT_SHAPE);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).not.toMatch(LINE_BREAKING);
    expect(line).not.toMatch(JWT_SHAPE);
  }
}

describe('no log injection: upstream and thrown text is logged as one line, without tokens', () => {
  it('an AuthZ error body with CR/LF and a JWT: one log line, no JWT, and none in the answer', async () => {
    const logger = lineLogger();
    const identity = provider(logger, { authzApiUrl: upstreamUrl });
    const res = await request(appWith(identity, logger)).get('/api/users?q=jdoe');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toMatch(JWT_SHAPE);
    expectCleanLog(logger);
    expect(logger.lines.some((line) => line.includes('Forbidden [ERROR] fake line [redacted]'))).toBe(true);
    await identity.close();
  });

  it('a token endpoint error_description (and error code) with CR/LF and a JWT: one line, no JWT', async () => {
    const logger = lineLogger();
    const identity = provider(logger, { apiTokenEndpoint: `${upstreamUrl}/token` });
    const res = await request(appWith(identity, logger)).get('/api/users?q=jdoe');
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toMatch(JWT_SHAPE);
    expectCleanLog(logger);
    // A refused grant is a misconfiguration: what the endpoint said is in what to fix (and the log).
    const error = (await identity.getUser('jdoe').catch((failure: unknown) => failure)) as CernSsoError;
    expect(error).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED' });
    expect(error.details.join(' ')).toContain('invalid_request: bad secret [ERROR] fake line [redacted]');
    expect(logger.lines.some((line) => line.includes('bad secret [ERROR] fake line [redacted]'))).toBe(true);
    await identity.close();
  });

  it('an error thrown with CR/LF and a JWT in its message is logged escaped, on one line', async () => {
    const logger = lineLogger();
    const identity = provider(logger, {});
    const res = await request(appWith(identity, logger)).get('/boom');
    expect(res.status).toBe(500);
    expectCleanLog(logger);
    expect(logger.lines).toEqual([
      'unhandled error: Error: boom<CR><LF>[ERROR] fake line [redacted]<U+2028><U+202E> (method=GET path=/boom)',
    ]);
    await identity.close();
  });
});
