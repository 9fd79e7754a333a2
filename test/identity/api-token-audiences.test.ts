import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { demoClient } from '../../src/testing/index.js';
import { API_TOKEN, fakeClock, makeProvider, rejectionOf, useEmulatorAndProvider } from './helpers.js';

const env = useEmulatorAndProvider(
  {},
  { clients: [demoClient, { clientId: 'other-app', clientSecret: 'other-secret', redirectUris: [] }] },
);

describe('getApiToken(audience)', () => {
  it('defaults to the Authorization Service API', async () => {
    expect(decodeJwt(await env.setup.identity.getApiToken()).aud).toBe('authorization-service-api');
  });

  it('gets a token for another audience, cached per audience: one request each', async () => {
    const other = await env.setup.identity.getApiToken('other-app');
    const authz = await env.setup.identity.getApiToken();
    expect(decodeJwt(other).aud).toBe('other-app');
    expect(other).not.toBe(authz);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(2);
    expect(await env.setup.identity.getApiToken('other-app')).toBe(other);
    expect(await env.setup.identity.getApiToken('authorization-service-api')).toBe(authz);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(2);
  });

  it('concurrent calls for one audience share one request', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 8 }, () => env.setup.identity.getApiToken('other-app')),
    );
    expect(new Set(tokens).size).toBe(1);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(1);
  });

  it('each audience is renewed 30 s before it expires', async () => {
    const clock = fakeClock();
    const timed = makeProvider(env.emulator, { clock });
    const first = await timed.identity.getApiToken('other-app');
    clock.advance(1200_000 - 31_000);
    expect(await timed.identity.getApiToken('other-app')).toBe(first);
    clock.advance(2_000);
    expect(await timed.identity.getApiToken('other-app')).not.toBe(first);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(2);
    await timed.identity.close();
  });

  it('instances sharing a cache store share each audience token', async () => {
    const second = makeProvider(env.emulator, { cache: env.setup.cache });
    const token = await env.setup.identity.getApiToken('other-app');
    expect(await second.identity.getApiToken('other-app')).toBe(token);
    expect(env.emulator.requests.count(API_TOKEN)).toBe(1);
    await second.identity.close();
  });

  it('an audience Keycloak refuses is a misconfiguration naming it; the AuthZ token still works', async () => {
    const error = await rejectionOf(env.setup.identity.getApiToken('unknown-app'));
    expect(error).toMatchObject({ code: 'ERR_IDP_MISCONFIGURED' });
    expect(JSON.stringify((error as { details?: unknown }).details)).toContain('unknown-app');
    expect(await env.setup.identity.getApiToken()).toEqual(expect.any(String));
  });

  it('a bad audience is a 400 without a request', async () => {
    for (const bad of ['', '  ', 'a\nb', 42]) {
      expect(await rejectionOf(env.setup.identity.getApiToken(bad as string))).toMatchObject({
        code: 'ERR_BAD_REQUEST',
      });
    }
    expect(env.emulator.requests.count(API_TOKEN)).toBe(0);
  });
});
