import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { classifyDiscoveryFailure } from '../../src/error-mapper.js';
import { createOidcDiscovery } from '../../src/auth/discovery.js';
import { MISCONFIGURED_RECHECK_MS } from '../../src/errors.js';
import { CernSsoError } from '../../src/errors.js';
import { logLine } from '../helpers/log-lines.js';

/** Per issuer path: what `/<path>/.well-known/openid-configuration` answers. */
interface Answer {
  status: number;
  type?: string;
  body: string;
}
const answers = new Map<string, Answer>();
const hits = new Map<string, number>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const issuerPath = (req.url ?? '').replace(/\/\.well-known\/openid-configuration$/, '');
    hits.set(issuerPath, (hits.get(issuerPath) ?? 0) + 1);
    const answer = answers.get(issuerPath) ?? { status: 404, body: 'not found' };
    res.writeHead(answer.status, { 'content-type': answer.type ?? 'text/plain' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

const metadata = (issuer: string): string =>
  JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token` });

/** What openid-client really throws for discovery at `issuer`. */
async function discoveryError(issuer: string): Promise<unknown> {
  try {
    await client.discovery(new URL(issuer), 'app', undefined, undefined, {
      // Plain http to the loopback test server only.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      execute: [client.allowInsecureRequests],
      timeout: 5,
    });
  } catch (error) {
    return error;
  }
  throw new Error('discovery unexpectedly succeeded');
}

describe('classifyDiscoveryFailure on what openid-client throws', () => {
  it.each([400, 401, 403, 404])('HTTP %i from the discovery URL is a misconfiguration', async (status) => {
    answers.set(`/s${String(status)}`, { status, body: 'no' });
    expect(classifyDiscoveryFailure(await discoveryError(`${base}/s${String(status)}`))).toEqual({
      kind: 'misconfigured',
      reason: `answered HTTP ${String(status)}`,
    });
  });

  it.each([500, 502, 503, 504, 429])('HTTP %i is an outage naming the status', async (status) => {
    answers.set(`/o${String(status)}`, { status, body: 'busy' });
    expect(classifyDiscoveryFailure(await discoveryError(`${base}/o${String(status)}`))).toEqual({
      kind: 'outage',
      cause: `HTTP ${String(status)}`,
      retryAfterSec: 5,
    });
  });

  it.each([
    ['an HTML page', { status: 200, type: 'text/html', body: '<html>login</html>' }],
    ['a JSON array', { status: 200, type: 'application/json', body: '[1]' }],
    ['broken JSON', { status: 200, type: 'application/json', body: '{"issuer":' }],
  ] as const)('%s instead of a discovery document is a misconfiguration', async (_what, answer) => {
    const path = `/doc-${String(answers.size)}`;
    answers.set(path, answer);
    expect(classifyDiscoveryFailure(await discoveryError(`${base}${path}`))).toMatchObject({
      kind: 'misconfigured',
      reason: expect.stringMatching(/valid OpenID discovery document/) as unknown,
    });
  });

  it('a document for another issuer is a misconfiguration naming the issuer it claims', async () => {
    answers.set('/mine', { status: 200, type: 'application/json', body: metadata(`${base}/theirs`) });
    expect(classifyDiscoveryFailure(await discoveryError(`${base}/mine`))).toEqual({
      kind: 'misconfigured',
      reason: `served a discovery document for another issuer (${base}/theirs)`,
    });
  });

  it('a refused connection is an outage naming ECONNREFUSED', async () => {
    const tcp = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address() as AddressInfo;
    await new Promise<void>((resolve) =>
      tcp.close(() => {
        resolve();
      }),
    );
    expect(classifyDiscoveryFailure(await discoveryError(`http://127.0.0.1:${String(port)}/x`))).toEqual({
      kind: 'outage',
      cause: 'ECONNREFUSED',
    });
  });

  it('a DNS failure (fetch failed, cause ENOTFOUND) is an outage naming ENOTFOUND', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND auth.example'), { code: 'ENOTFOUND' });
    expect(classifyDiscoveryFailure(new TypeError('fetch failed', { cause: dns }))).toEqual({
      kind: 'outage',
      cause: 'ENOTFOUND',
    });
  });

  it("openid-client's timeout (OAUTH_TIMEOUT) and an aborted fetch are outages named timeout", () => {
    // What openid-client throws when its `timeout` elapses (a real one would cost a second).
    const timeout = Object.assign(new Error('operation timed out'), {
      name: 'ClientError',
      code: 'OAUTH_TIMEOUT',
    });
    expect(classifyDiscoveryFailure(timeout)).toEqual({ kind: 'outage', cause: 'timeout' });
    const aborted = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyDiscoveryFailure(aborted)).toEqual({ kind: 'outage', cause: 'timeout' });
  });

  it('anything unrecognised stays an outage (the safe, retrying answer)', () => {
    expect(classifyDiscoveryFailure('a string')).toEqual({ kind: 'outage', cause: 'unknown error' });
    expect(classifyDiscoveryFailure(new Error('odd'))).toEqual({ kind: 'outage', cause: 'Error' });
  });
});

describe('classifyDiscoveryFailure on any status', () => {
  it('a non-2xx status is an outage exactly when it means "later" (5xx, 429, 408)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 599 }).filter((n) => n > 299),
        (status) => {
          const error = Object.assign(new Error('unexpected HTTP response status code'), {
            code: 'OAUTH_RESPONSE_IS_NOT_CONFORM',
            cause: new Response(null, { status }),
          });
          const transient = status >= 500 || status === 429 || status === 408;
          expect(classifyDiscoveryFailure(error)).toEqual(
            transient
              ? { kind: 'outage', cause: `HTTP ${String(status)}`, retryAfterSec: 5 }
              : { kind: 'misconfigured', reason: `answered HTTP ${String(status)}` },
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('whatever issuer a mismatching document claims, the answer is a misconfiguration', () => {
    const claims = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '\r\nfake line'),
      fc.anything(),
    );
    fc.assert(
      fc.property(claims, (issuer) => {
        const error = Object.assign(
          new Error('discovered metadata issuer does not match the expected issuer'),
          {
            code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
            cause: {
              expected: 'https://auth.cern.ch/auth/realms/cern',
              body: { issuer },
              attribute: 'issuer',
            },
          },
        );
        expect(classifyDiscoveryFailure(error).kind).toBe('misconfigured');
      }),
      { numRuns: 200 },
    );
  });
});

describe('createOidcDiscovery with a misconfigured issuer', () => {
  const logger = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

  it('rechecks at most every 30 s, and succeeds once the issuer is fixed', async () => {
    let now = 1_000_000;
    const log = logger();
    const issuer = `${base}/realm-later`;
    const discovery = createOidcDiscovery({
      issuer,
      clientId: 'app',
      clientSecret: 'secret',
      httpTimeoutMs: 5000,
      logger: log,
      now: () => now,
    });
    const rejected = async (): Promise<CernSsoError> => {
      const error: unknown = await discovery.get().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CernSsoError);
      return error as CernSsoError;
    };

    const first = await rejected();
    expect(first).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED', status: 500, expose: true, headers: {} });
    expect(first.message).toMatch(/sign-in is misconfigured/i);
    expect(hits.get('/realm-later')).toBe(1);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(logLine(log.error.mock.calls[0] ?? [])).toContain(`${issuer}/.well-known/openid-configuration`);

    now += MISCONFIGURED_RECHECK_MS - 1;
    expect((await rejected()).code).toBe('ERR_IDP_MISCONFIGURED');
    expect(hits.get('/realm-later')).toBe(1);

    answers.set('/realm-later', { status: 200, type: 'application/json', body: metadata(issuer) });
    now += 1;
    const config = await discovery.get();
    expect(config.serverMetadata().issuer).toBe(issuer);
    expect(hits.get('/realm-later')).toBe(2);
  });

  it('an outage is retried after retryDelayMs, not 30 s, and answers 503 with Retry-After', async () => {
    let now = 5_000_000;
    const log = logger();
    answers.set('/realm-busy', { status: 503, body: 'busy' });
    const discovery = createOidcDiscovery({
      issuer: `${base}/realm-busy`,
      clientId: 'app',
      clientSecret: 'secret',
      httpTimeoutMs: 5000,
      retryDelayMs: 2000,
      logger: log,
      now: () => now,
    });
    await expect(discovery.get()).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
      status: 503,
      headers: { 'Retry-After': '2' },
    });
    expect(logLine(log.warn.mock.calls[0] ?? [])).toMatch(
      /reason=HTTP 503 url=\S*realm-busy\/\.well-known\/openid-configuration /,
    );
    now += 2000;
    await expect(discovery.get()).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(hits.get('/realm-busy')).toBe(2);
    expect(log.error).not.toHaveBeenCalled();
  });
});
