import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxySettings, proxyTransport } from '../../src/http/proxy-fetch.js';
import { classifyUpstreamFailure } from '../../src/error-mapper.js';
import { CernSsoError } from '../../src/errors.js';
import { createAuthzClient } from '../../src/identity/authz-client.js';
import { recordingLogger } from '../helpers/app.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';

const tokens = { get: () => Promise.resolve('api-token'), invalidate: () => Promise.resolve() };

let proxy: ForwardProxy;
let target: Server;
let targetPort: number;

beforeAll(async () => {
  proxy = await startForwardProxy();
  // An http "Authorization Service": every path answers one JSON resource.
  target = createHttpServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: { ok: true } }));
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as AddressInfo).port;
});
afterAll(async () => {
  await proxy.close();
  target.closeAllConnections();
  await new Promise((resolve) => target.close(resolve));
});

describe('proxySettings', () => {
  it.each([
    [{}, { httpProxy: undefined, httpsProxy: undefined, noProxy: '' }],
    [{ HTTP_PROXY: 'http://p:1' }, { httpProxy: 'http://p:1', httpsProxy: 'http://p:1', noProxy: '' }],
    [
      { http_proxy: 'http://low:1', HTTP_PROXY: 'http://up:1' },
      { httpProxy: 'http://low:1', httpsProxy: 'http://low:1', noProxy: '' },
    ],
    [{ HTTPS_PROXY: 'http://s:1' }, { httpProxy: undefined, httpsProxy: 'http://s:1', noProxy: '' }],
    [
      { HTTP_PROXY: '', https_proxy: 'http://s:1', NO_PROXY: 'a', no_proxy: 'b' },
      { httpProxy: undefined, httpsProxy: 'http://s:1', noProxy: 'b' },
    ],
  ])('%j reads as %j (lower case first, empty is unset, https falls back to http)', (env, expected) => {
    expect(proxySettings(env)).toEqual(expected);
  });

  it('without a proxy variable the transport is the global fetch, unchanged', () => {
    const transport = proxyTransport({ NO_PROXY: '*' });
    expect(transport.proxied).toBe(false);
    expect(transport.Request).toBe(globalThis.Request);
  });
});

/** Whether a call of each half reached the target through the proxy (its count grew). */
async function viaProxy(env: NodeJS.ProcessEnv, host: string): Promise<{ fetch: boolean; axios: boolean }> {
  const transport = proxyTransport(env);
  const key = `${host}:${String(targetPort)}`;
  const before = proxy.countFor(key);
  const response = await transport.fetch(`http://${key}/api/v1.0/ping`);
  expect(response.status).toBe(200);
  const afterFetch = proxy.countFor(key);
  const saved = { ...process.env };
  // The AuthZ client reads the environment when it is made, as createIdentityProvider() does.
  Object.assign(process.env, env);
  const client = createAuthzClient({
    baseUrl: `http://${key}`,
    tokens,
    timeoutMs: 2000,
    logger: recordingLogger(),
  });
  for (const name of Object.keys(env)) {
    if (saved[name] === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = saved[name];
  }
  try {
    expect(await client.getData('ping')).toEqual({ ok: true });
  } finally {
    client.close();
  }
  return { fetch: afterFetch > before, axios: proxy.countFor(key) > afterFetch };
}

describe('one NO_PROXY decision for fetch (Keycloak) and axios (AuthZ)', () => {
  const rules: [noProxy: string, host: string, proxied: boolean][] = [
    ['', '127.0.0.1', true],
    ['127.0.0.1', '127.0.0.1', false],
    ['*', '127.0.0.1', false],
    ['*', 'localhost', false],
    ['.0.0.1', '127.0.0.1', false],
    ['*.0.0.1', '127.0.0.1', false],
    ['example.org, localhost', 'localhost', false],
    ['LOCALHOST', 'localhost', false],
    ['calhost', 'localhost', true],
    ['example.org', '127.0.0.1', true],
    ['127.0.0.1:1', '127.0.0.1', true],
    ['localhost', '127.0.0.1', true],
  ];
  it.each(rules)('NO_PROXY=%j, host %s: proxied %s, the same for both', async (noProxy, host, proxied) => {
    const env = { HTTP_PROXY: proxy.url, NO_PROXY: noProxy };
    expect(await viaProxy(env, host)).toEqual({ fetch: proxied, axios: proxied });
  });

  it('NO_PROXY with the port of the target exempts it', async () => {
    const env = { HTTP_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${String(targetPort)}` };
    expect(await viaProxy(env, '127.0.0.1')).toEqual({ fetch: false, axios: false });
  });
});

describe('https targets: a CONNECT tunnel', () => {
  it('fetch and axios open a tunnel to the target, and the TLS handshake goes through it', async () => {
    const hellos: number[] = [];
    // Not a TLS server: it records the first byte (0x16, a TLS handshake record) and hangs up.
    const tls = createTcpServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        hellos.push(chunk[0] ?? -1);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const key = `127.0.0.1:${String((tls.address() as AddressInfo).port)}`;
    try {
      const transport = proxyTransport({ HTTPS_PROXY: proxy.url });
      const error: unknown = await transport.fetch(`https://${key}/x`).catch((e: unknown) => e);
      expect(classifyUpstreamFailure(error)).toMatchObject({ kind: 'outage' });
      process.env.HTTPS_PROXY = proxy.url;
      const client = createAuthzClient({
        baseUrl: `https://${key}`,
        tokens,
        timeoutMs: 2000,
        logger: recordingLogger(),
      });
      Reflect.deleteProperty(process.env, 'HTTPS_PROXY');
      const failure: unknown = await client.getData('ping').catch((e: unknown) => e);
      client.close();
      expect(failure).toBeInstanceOf(CernSsoError);
      expect((failure as CernSsoError).status).toBe(503);
      expect(proxy.countFor(key)).toBe(2);
      expect(hellos).toEqual([0x16, 0x16]);
    } finally {
      Reflect.deleteProperty(process.env, 'HTTPS_PROXY');
      tls.close();
    }
  });

  it('a proxy that refuses the tunnel is an outage naming the proxy, for both halves', async () => {
    const refusing = await startForwardProxy({ refuseConnect: true });
    try {
      const transport = proxyTransport({ HTTPS_PROXY: refusing.url });
      const error: unknown = await transport.fetch('https://127.0.0.1:4443/x').catch((e: unknown) => e);
      expect(classifyUpstreamFailure(error)).toEqual({
        kind: 'outage',
        cause: 'the HTTP proxy refused the tunnel (HTTP 403)',
      });
      process.env.HTTPS_PROXY = refusing.url;
      const client = createAuthzClient({
        baseUrl: 'https://127.0.0.1:4443',
        tokens,
        timeoutMs: 2000,
        logger: recordingLogger(),
      });
      Reflect.deleteProperty(process.env, 'HTTPS_PROXY');
      const failure: unknown = await client.getData('ping').catch((e: unknown) => e);
      client.close();
      expect(failure).toBeInstanceOf(CernSsoError);
      expect((failure as CernSsoError).status).toBe(503);
      expect(String((failure as CernSsoError).cause)).toContain(
        'the HTTP proxy refused the tunnel (HTTP 403)',
      );
      expect(refusing.countFor('127.0.0.1:4443')).toBe(2);
    } finally {
      Reflect.deleteProperty(process.env, 'HTTPS_PROXY');
      await refusing.close();
    }
  });
});
