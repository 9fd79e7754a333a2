import { afterEach, describe, expect, it } from 'vitest';
import { bearerAuth, requireAuth } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { startForwardProxy, type ForwardProxy } from '../helpers/forward-proxy.js';

const PROXY_VARS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];
const saved = new Map(PROXY_VARS.map((name) => [name, process.env[name]]));
const running: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const [name, value] of saved) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
  for (const item of running.splice(0).reverse()) await item.close();
});

/** Proxy variables set BEFORE the app is built (they are read when cernSso() is made). */
async function setUp(
  env: Record<string, string>,
): Promise<{ proxy: ForwardProxy; emulator: CernSsoEmulator; app: TestApp }> {
  const proxy = await startForwardProxy();
  running.push(proxy);
  for (const name of PROXY_VARS) Reflect.deleteProperty(process.env, name);
  for (const [name, value] of Object.entries(env)) process.env[name] = value.replace('$PROXY', proxy.url);
  const emulator = await startCernSsoEmulator();
  running.push(emulator);
  const app = await startTestApp(emulator);
  running.push(app);
  return { proxy, emulator, app };
}

/** Signs admin1 in through the login form, then opens a page that asks the AuthZ API for groups. */
async function loginAndAskGroups(app: TestApp): Promise<number> {
  const browser = new TestBrowser();
  const form = await browser.navigate(`${app.baseUrl}/profile`);
  const page = await browser.submitForm(form, { username: 'admin1', password: 'demo' });
  expect(page.body).toMatch(/^profile of /);
  expect(page.status).toBe(200);
  const groups = await browser.navigate(`${app.baseUrl}/it-admins`);
  return groups.status;
}

function split(proxy: ForwardProxy, emulator: CernSsoEmulator): { keycloak: string[]; authz: string[] } {
  const authzBase = new URL(emulator.authzApiUrl).pathname;
  const paths = proxy.requests.map((href) => new URL(href).pathname);
  return {
    keycloak: paths.filter((path) => path.startsWith('/auth/realms/')),
    authz: paths.filter((path) => path.startsWith(authzBase) && !path.startsWith('/auth/realms/')),
  };
}

describe('behind an HTTP proxy', () => {
  it('with HTTP_PROXY set, discovery, token and AuthZ calls all go through the proxy', async () => {
    const { proxy, emulator, app } = await setUp({ HTTP_PROXY: '$PROXY' });
    const status = await loginAndAskGroups(app);
    expect([200, 403]).toContain(status);
    const { keycloak, authz } = split(proxy, emulator);
    expect(keycloak).toContain('/auth/realms/cern/.well-known/openid-configuration');
    expect(keycloak).toContain('/auth/realms/cern/protocol/openid-connect/token');
    expect(keycloak).toContain('/auth/realms/cern/api-access/token');
    expect(authz.length).toBeGreaterThan(0);
    expect(proxy.countFor(new URL(emulator.issuer).host)).toBe(proxy.requests.length);
  });

  it('with HTTP_PROXY set, bearerAuth() fetches the discovery and signing keys through the proxy', async () => {
    const proxy = await startForwardProxy();
    running.push(proxy);
    for (const name of PROXY_VARS) Reflect.deleteProperty(process.env, name);
    process.env.HTTP_PROXY = proxy.url;
    const emulator = await startCernSsoEmulator();
    running.push(emulator);
    const app = await startTestApp(emulator, {
      routes: (express) => {
        express.get('/bearer/me', bearerAuth({ audience: 'my-api' }), requireAuth(), (req, res) => {
          res.json({ login: req.sso.user?.login });
        });
      },
    });
    running.push(app);
    const token = await emulator.issueAccessToken('jdoe', { audience: 'my-api' });
    const answer = await new TestBrowser().request(`${app.baseUrl}/bearer/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.status).toBe(200);
    const { keycloak } = split(proxy, emulator);
    expect(keycloak).toContain('/auth/realms/cern/.well-known/openid-configuration');
    expect(keycloak).toContain('/auth/realms/cern/protocol/openid-connect/certs');
  });

  it('lower-case http_proxy is read as well', async () => {
    const { proxy, emulator, app } = await setUp({ http_proxy: '$PROXY' });
    await loginAndAskGroups(app);
    const { keycloak, authz } = split(proxy, emulator);
    expect(keycloak.length).toBeGreaterThan(0);
    expect(authz.length).toBeGreaterThan(0);
  });

  it.each([['127.0.0.1'], ['*'], ['.0.0.1'], ['localhost,127.0.0.1']])(
    'with NO_PROXY=%s covering the emulator, neither half uses the proxy',
    async (noProxy) => {
      const { proxy, app } = await setUp({ HTTP_PROXY: '$PROXY', NO_PROXY: noProxy });
      const status = await loginAndAskGroups(app);
      expect([200, 403]).toContain(status);
      expect(proxy.requests).toEqual([]);
      expect(proxy.counts.size).toBe(0);
    },
  );

  it('NO_PROXY naming the emulator host on another port does not exempt it (both halves)', async () => {
    const { proxy, emulator, app } = await setUp({ HTTP_PROXY: '$PROXY', NO_PROXY: '127.0.0.1:1' });
    await loginAndAskGroups(app);
    const { keycloak, authz } = split(proxy, emulator);
    expect(keycloak.length).toBeGreaterThan(0);
    expect(authz.length).toBeGreaterThan(0);
  });

  it('a proxy that is down is an outage: 503 naming the cause, for the login service', async () => {
    const { app } = await setUp({ HTTP_PROXY: 'http://127.0.0.1:1' });
    const browser = new TestBrowser();
    const answer = await browser.request(`${app.baseUrl}/login`);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).not.toBeNull();
    expect(app.logger.lines('warn').some((line) => line.includes('ECONNREFUSED'))).toBe(true);
  });
});
