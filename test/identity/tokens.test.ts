import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOidcDiscovery } from '../../src/auth/discovery.js';
import { memoryCache } from '../../src/cache/memory.js';
import { resolveSsoConfig } from '../../src/config.js';
import type { CernSsoError } from '../../src/errors.js';
import { buildIdentityProvider } from '../../src/identity/identity-provider.js';
import { silentLogger } from '../../src/logger.js';
import { deriveApiTokenEndpoint } from '../../src/identity/api-token.js';
import type { CernSsoEmulator } from '../../src/testing/index.js';
import {
  API_TOKEN,
  fakeClock,
  makeProvider,
  OIDC_TOKEN,
  rejectionOf,
  startEmulator,
  type ProviderSetup,
} from './helpers.js';

let emulator: CernSsoEmulator;
let setup: ProviderSetup;

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
  emulator.faults.clear();
  setup = makeProvider(emulator);
});
afterEach(async () => {
  await setup.identity.close();
});

describe('getApiToken', () => {
  it('gets a client-credentials token for the Authorization Service API at api-access/token', async () => {
    const token = await setup.identity.getApiToken();
    const claims = await emulator.verifyApiToken(token);
    expect([claims.aud].flat()).toContain('authorization-service-api');
    expect(emulator.requests.count(API_TOKEN, 'POST')).toBe(1);
  });

  it('is cached and single-flight', async () => {
    const tokens = await Promise.all(Array.from({ length: 50 }, () => setup.identity.getApiToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(await setup.identity.getApiToken()).toBe(tokens[0]);
    expect(emulator.requests.count(API_TOKEN)).toBe(1);
  });

  it('is shared through the cache store by instances that share it', async () => {
    const cache = memoryCache();
    const a = makeProvider(emulator, { cache });
    const b = makeProvider(emulator, { cache });
    const token = await a.identity.getApiToken();
    expect(await b.identity.getApiToken()).toBe(token);
    expect(emulator.requests.count(API_TOKEN)).toBe(1);
    await Promise.all([a.identity.close(), b.identity.close()]);
  });

  it('is renewed 30 s before it expires', async () => {
    const clock = fakeClock();
    const timed = makeProvider(emulator, { clock });
    const first = await timed.identity.getApiToken();
    clock.advance(1200_000 - 31_000);
    expect(await timed.identity.getApiToken()).toBe(first);
    clock.advance(2_000);
    expect(await timed.identity.getApiToken()).not.toBe(first);
    expect(emulator.requests.count(API_TOKEN)).toBe(2);
    await timed.identity.close();
  });

  it('uses an explicit apiTokenEndpoint', async () => {
    const explicit = makeProvider(emulator, { apiTokenEndpoint: `${emulator.issuer}/api-access/token` });
    await explicit.identity.getApiToken();
    expect(emulator.requests.count(API_TOKEN)).toBe(1);
    await explicit.identity.close();
  });

  it('wrong client credentials are a misconfiguration naming clientSecret, not an outage', async () => {
    const wrong = makeProvider(emulator, { clientSecret: 'not-the-secret' });
    const error = await rejectionOf(wrong.identity.getApiToken());
    expect(error).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED', status: 500 });
    const fix = (error as CernSsoError).details.join(' ');
    expect(fix).toMatch(
      /^clientSecret: .*api-access\/token\) refused the client credentials \(HTTP 401 (invalid|unauthorized)_client/,
    );
    expect(`${(error as Error).message} ${fix}`).not.toContain('not-the-secret');
    await wrong.identity.close();
  });

  it('Keycloak down (discovery fails) is a 503', async () => {
    const down = makeProvider(emulator, {
      issuer: 'http://127.0.0.1:9/auth/realms/cern',
      httpTimeoutMs: 500,
    });
    await expect(down.identity.getApiToken()).rejects.toMatchObject({
      status: 503,
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
    await down.identity.close();
  });

  it('derives the endpoint from the discovered token endpoint', () => {
    expect(
      deriveApiTokenEndpoint('https://auth.cern.ch/auth/realms/cern/protocol/openid-connect/token', 'x'),
    ).toBe('https://auth.cern.ch/auth/realms/cern/api-access/token');
    expect(deriveApiTokenEndpoint(undefined, 'https://kc.example/realms/r/')).toBe(
      'https://kc.example/realms/r/api-access/token',
    );
  });
});

describe('exchangeToken', () => {
  it('exchanges a user access token for another audience (RFC 8693), cached per token and audience', async () => {
    const subject = await emulator.issueAccessToken('jdoe', { clientId: 'demo-app' });
    const exchanged = await setup.identity.exchangeToken(subject, 'other-api');
    const claims = decodeJwt(exchanged);
    expect(claims.sub).toBe('jdoe');
    expect([claims.aud].flat()).toContain('other-api');

    expect(await setup.identity.exchangeToken(subject, 'other-api')).toBe(exchanged);
    expect(emulator.requests.count(OIDC_TOKEN)).toBe(1);
    await setup.identity.exchangeToken(subject, 'third-api');
    expect(emulator.requests.count(OIDC_TOKEN)).toBe(2);
  });

  it('an invalid or expired subject token: 401 ERR_TOKEN_EXCHANGE without the token in the message', async () => {
    const expired = await emulator.issueAccessToken('jdoe', { clientId: 'demo-app', expiresInSec: -60 });
    const error = await rejectionOf(setup.identity.exchangeToken(expired, 'other-api'));
    expect(error).toMatchObject({ code: 'ERR_TOKEN_EXCHANGE', status: 401 });
    expect((error as Error).message).not.toContain(expired);
    expect((error as Error).message).toMatch(/invalid or expired/);
    expect(await rejectionOf(setup.identity.exchangeToken('garbage', 'other-api'))).toMatchObject({
      status: 401,
    });
  });

  it('a wrong client secret at the exchange (Keycloak: 401 unauthorized_client) is a 500 misconfiguration, not a 403', async () => {
    const subject = await emulator.issueAccessToken('jdoe', { clientId: 'demo-app' });
    const wrong = makeProvider(emulator, { clientSecret: 'not-the-secret' });
    const error = await rejectionOf(wrong.identity.exchangeToken(subject, 'other-api'));
    expect(error).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED', status: 500 });
    const fix = (error as CernSsoError).details.join(' ');
    expect(fix).toMatch(/^clientSecret: .*openid-connect\/token\) refused the client credentials/);
    expect(`${(error as Error).message} ${fix}`).not.toContain('not-the-secret');
    await wrong.identity.close();
  });

  it('a token of another client may not be exchanged: 403', async () => {
    const foreign = await emulator.issueAccessToken('jdoe', {
      clientId: 'someone-else',
      audience: 'someone-else',
    });
    const error = await rejectionOf(setup.identity.exchangeToken(foreign, 'other-api'));
    expect(error).toMatchObject({ code: 'ERR_TOKEN_EXCHANGE', status: 403 });
  });

  it('token endpoint down: 503; failures are not cached', async () => {
    const subject = await emulator.issueAccessToken('mmartin', { clientId: 'demo-app' });
    await setup.identity.getApiToken(); // discovery done
    emulator.faults.set(OIDC_TOKEN, { status: 503 });
    await expect(setup.identity.exchangeToken(subject, 'other-api')).rejects.toMatchObject({
      status: 503,
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
    emulator.faults.clear();
    expect(decodeJwt(await setup.identity.exchangeToken(subject, 'other-api')).sub).toBe('mmartin');
  });

  it('validates its inputs', async () => {
    await expect(setup.identity.exchangeToken('', 'x')).rejects.toMatchObject({ status: 400 });
    await expect(setup.identity.exchangeToken('abc', ' ')).rejects.toThrow(/audience must not be empty/);
  });
});

describe('buildIdentityProvider', () => {
  it("accepts cernSso()'s resolved config and shares its discovery", async () => {
    const config = resolveSsoConfig({
      clientId: 'demo-app',
      clientSecret: 'demo-app-secret',
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      baseUrl: 'http://localhost:3000',
      logger: silentLogger,
    });
    const discovery = createOidcDiscovery({ ...config, logger: silentLogger });
    await discovery.get();
    emulator.requests.reset();
    const identity = buildIdentityProvider(config, { discovery });
    expect(await identity.getUserGroups('jdoe')).toContain('it-dep');
    // The shared discovery was used: no second discovery request.
    expect(emulator.requests.count('/auth/realms/cern/.well-known')).toBe(0);
    await identity.close();
  });
});
