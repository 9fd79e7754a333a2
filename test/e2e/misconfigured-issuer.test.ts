import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';

let emulator: CernSsoEmulator;
const apps: TestApp[] = [];

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await emulator.close();
});
beforeEach(() => {
  emulator.faults.clear();
  emulator.requests.reset();
});

async function appWithIssuer(issuer: string, clientId: string): Promise<TestApp> {
  const app = await startTestApp(emulator, { clientId, sso: { issuer } });
  apps.push(app);
  return app;
}

/** The library's code in a JSON error body (`code` in the December shape, `error` before it). */
function codeOf(body: unknown): unknown {
  const { code, error } = body as { code?: unknown; error?: unknown };
  return code ?? error;
}

/** A port on 127.0.0.1 that nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

describe('an issuer that does not exist (discovery answers 404)', () => {
  it('answers "sign-in is misconfigured" (500, ERR_IDP_MISCONFIGURED), logs the URL, and does not retry within 30 s', async () => {
    const issuer = emulator.issuer.replace(/\/cern$/, '/no-such-realm');
    const app = await appWithIssuer(issuer, 'wrong-realm-app');

    const json = await fetch(`${app.baseUrl}/login`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(500);
    expect(json.headers.get('retry-after')).toBeNull();
    const body = (await json.json()) as Record<string, unknown>;
    expect(codeOf(body)).toBe('ERR_IDP_MISCONFIGURED');
    expect(JSON.stringify(body)).toMatch(/sign-in is misconfigured/i);
    expect(JSON.stringify(body)).not.toMatch(/no-such-realm|\bat\s|404/);

    const page = await fetch(`${app.baseUrl}/login`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(500);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toMatch(/sign-in is misconfigured/i);
    expect(html).not.toMatch(/no-such-realm|Error:|\bat\s+\S+\s+\(/);

    const logged = app.logger.lines('error').join('\n');
    expect(logged).toContain(`${issuer}/.well-known/openid-configuration`);
    expect(logged).toMatch(/HTTP 404/);
    expect(logged).toMatch(/check the `issuer` option/);
    // The second /login (and the third) were answered from memory: one discovery request in all.
    expect(emulator.requests.count('/auth/realms/no-such-realm')).toBe(1);
  });
});

describe('a discovery document for another issuer', () => {
  it('answers ERR_IDP_MISCONFIGURED and logs both issuers', async () => {
    emulator.faults.set('/auth/realms/cern/.well-known', { wrongIss: true });
    const app = await appWithIssuer(emulator.issuer, 'wrong-iss-app');
    const res = await fetch(`${app.baseUrl}/login`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(500);
    expect(codeOf(await res.json())).toBe('ERR_IDP_MISCONFIGURED');
    const logged = app.logger.lines('error').join('\n');
    expect(logged).toContain(`${emulator.issuer}/.well-known/openid-configuration`);
    expect(logged).toMatch(/another issuer \(.*not-cern\)/);
  });
});

describe('an issuer on a closed port (an outage, not a misconfiguration)', () => {
  it('answers 503 with Retry-After and logs ECONNREFUSED with the URL', async () => {
    const issuer = `http://127.0.0.1:${String(await closedPort())}/auth/realms/cern`;
    const app = await appWithIssuer(issuer, 'closed-port-app');
    const res = await fetch(`${app.baseUrl}/login`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(codeOf(await res.json())).toBe('ERR_UPSTREAM_UNAVAILABLE');
    const logged = app.logger.lines('warn').join('\n');
    expect(logged).toContain(`${issuer}/.well-known/openid-configuration`);
    expect(logged).toContain('ECONNREFUSED');
    expect(app.logger.error).not.toHaveBeenCalled();
  });
});
