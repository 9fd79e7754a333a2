/**
 * Structured logs through real HTTP against the emulator: what a pino logger receives from the
 * library is `(fields, message)` with a constant message, the error as `err`
 * (`{ type, message, code?, cause? }`), the upstream `url`, the library `code` and, for a
 * misconfiguration, the `option` to fix; never a secret, a token or a request header.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps } from '../helpers/login-steps.js';

const JSON_ACCEPT = { accept: 'application/json' };
const WRONG_SECRET = 'wrong-secret-for-the-structured-log-3c1d';
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/;

type Level = 'debug' | 'info' | 'warn' | 'error';
interface Call {
  level: Level;
  args: unknown[];
}

/** A logger that keeps the raw calls, as pino would receive them. */
function structuredLogger(): Record<Level, (...args: unknown[]) => void> & { calls: Call[] } {
  const calls: Call[] = [];
  const keep =
    (level: Level) =>
    (...args: unknown[]): void => {
      calls.push({ level, args });
    };
  return { calls, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

let emulator: CernSsoEmulator;
const apps: TestApp[] = [];
let clients = 0;

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await emulator.close();
});
beforeEach(() => {
  emulator.setAutoLogin(false);
});

/** An app of its own client, logging to a structured logger. */
async function newApp(
  sso: { clientSecret?: string } = {},
  idp: CernSsoEmulator = emulator,
): Promise<{ app: TestApp; logger: ReturnType<typeof structuredLogger> }> {
  clients += 1;
  const logger = structuredLogger();
  const app = await startTestApp(idp, {
    clientId: `structured-${String(clients)}`,
    sso: { ...sso, logger },
  });
  apps.push(app);
  return { app, logger };
}

function callsAt(logger: { calls: Call[] }, level: Level): unknown[][] {
  return logger.calls.filter((call) => call.level === level).map((call) => call.args);
}

describe('structured log fields (pino call shape)', () => {
  it('Keycloak down at login: { err: TypeError fetch failed, cause ECONNREFUSED }, the discovery url, retryInMs', async () => {
    // An emulator of its own: the failed discovery is answered from memory for a while, for
    // every app of this issuer in the process.
    const down = await startCernSsoEmulator();
    const { app, logger } = await newApp({}, down);
    await down.close();
    const res = await fetch(`${app.baseUrl}/login`, { headers: JSON_ACCEPT, redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(callsAt(logger, 'error')).toEqual([]);
    expect(callsAt(logger, 'warn')).toEqual([
      [
        {
          err: {
            type: 'TypeError',
            message: 'fetch failed',
            cause: expect.objectContaining({ code: 'ECONNREFUSED' }) as unknown,
          },
          reason: 'ECONNREFUSED',
          url: `${down.issuer}/.well-known/openid-configuration`,
          retryInMs: 2000,
        },
        'OpenID Provider discovery failed; retrying',
      ],
    ]);
  });

  it('a wrong client secret at the callback: { err, code: ERR_IDP_MISCONFIGURED, url: token endpoint, option: clientSecret }, no secret anywhere', async () => {
    const { app, logger } = await newApp({ clientSecret: WRONG_SECRET });
    const steps = loginSteps(
      () => emulator,
      () => app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    const res = await browser.request(callback.href, { headers: JSON_ACCEPT });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED' });

    const tokenUrl = `${emulator.issuer}/protocol/openid-connect/token`;
    expect(callsAt(logger, 'error')).toEqual([
      [
        {
          err: expect.objectContaining({
            type: 'ResponseBodyError',
            code: 'OAUTH_RESPONSE_BODY_ERROR',
          }) as unknown,
          code: 'ERR_IDP_MISCONFIGURED',
          url: tokenUrl,
          option: 'clientSecret',
          problem: expect.stringContaining(`(${tokenUrl}) refused the client credentials`) as unknown,
        },
        'sign-in is misconfigured',
      ],
    ]);
    // Logged once, where it was found: the callback does not log it again as a failure.
    expect(callsAt(logger, 'warn')).toEqual([]);
    // Nothing secret in any field of any call: not the secret, not its Basic form, no token.
    const clientId = `structured-${String(clients)}`;
    const everything = JSON.stringify(logger.calls);
    expect(everything).not.toContain(WRONG_SECRET);
    expect(everything).not.toContain(Buffer.from(`${clientId}:${WRONG_SECRET}`).toString('base64'));
    expect(everything).not.toContain(callback.searchParams.get('code') ?? '(no code)');
    expect(everything).not.toMatch(JWT_SHAPE);
  });

  it('Keycloak down at the code exchange: { err ECONNREFUSED, code: ERR_UPSTREAM_UNAVAILABLE, url: token endpoint }', async () => {
    const { app, logger } = await newApp();
    const steps = loginSteps(
      () => emulator,
      () => app.baseUrl,
    );
    const browser = new TestBrowser();
    const callback = await steps.authorizeAs('jdoe', await steps.startLogin(browser));
    await emulator.suspend();
    try {
      const res = await browser.request(callback.href, { headers: JSON_ACCEPT });
      expect(res.status).toBe(503);
    } finally {
      await emulator.resume();
    }
    const tokenUrl = `${emulator.issuer}/protocol/openid-connect/token`;
    expect(callsAt(logger, 'warn')).toEqual([
      [
        {
          err: { type: 'Error', code: 'ECONNREFUSED', message: `${tokenUrl}: ECONNREFUSED` },
          code: 'ERR_UPSTREAM_UNAVAILABLE',
          url: tokenUrl,
        },
        'sign-in callback failed',
      ],
    ]);
    expect(JSON.stringify(logger.calls)).not.toContain(callback.searchParams.get('code') ?? '(no code)');
  });

  it('a refused callback (unknown state): { err, code: ERR_LOGIN_STATE, status: 400, loginState }, a constant message', async () => {
    const { app, logger } = await newApp();
    const res = await fetch(`${app.baseUrl}/oidc/callback?code=abc&state=never-issued`, {
      headers: JSON_ACCEPT,
    });
    expect(res.status).toBe(400);
    expect(callsAt(logger, 'warn')).toEqual([
      [
        expect.objectContaining({
          err: expect.objectContaining({ type: 'CernSsoError', code: 'ERR_LOGIN_STATE' }) as unknown,
          code: 'ERR_LOGIN_STATE',
          status: 400,
          loginState: expect.any(String) as unknown,
        }) as unknown,
        'sign-in rejected',
      ],
    ]);
  });
});
