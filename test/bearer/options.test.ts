import { afterEach, describe, expect, it, vi } from 'vitest';
import { bearerAuth, CernSsoError, type BearerAuthOptions } from 'express-cern-sso';
import { resolveBearerConfig } from '../../src/bearer/options.js';

function configError(options: unknown): CernSsoError {
  try {
    bearerAuth(options as BearerAuthOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    return error as CernSsoError;
  }
  throw new Error('expected a configuration error');
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('bearerAuth options', () => {
  it('audience is required', () => {
    const error = configError({});
    expect(error.code).toBe('ERR_CONFIG');
    expect(error.details).toEqual([expect.stringMatching(/^audience: is required/)]);
    expect(configError(undefined).message).toMatch(/audience/);
  });

  it('every problem is listed at once, each with the option name', () => {
    const error = configError({
      issuer: ['http://auth.example.org/realms/x', 'not a url'],
      audience: [],
      algorithms: ['none', 'HS256', 'RS256', 'XX1'],
      clockToleranceSec: 3600,
      introspect: 'sometimes',
      clientId: 'only-the-id',
      azp: [''],
      identity: {},
      jwksCooldownMs: -1,
      verifiedTokenCacheMax: 1.5,
      httpTimeoutMs: 0,
      clock: { now: 5 },
      unknownOption: true,
    });
    const byName = (name: string) => error.details.filter((line) => line.startsWith(`${name}:`));
    expect(byName('issuer')).toEqual([
      expect.stringMatching(/must use https.*http:\/\/auth\.example\.org/),
      expect.stringMatching(/must be an absolute URL, got "not a url"/),
    ]);
    expect(byName('audience')).toHaveLength(1);
    expect(byName('algorithms')).toEqual([
      expect.stringMatching(/"none" is never accepted/),
      expect.stringMatching(/"HS256" is refused: symmetric/),
      expect.stringMatching(/"XX1" is not supported/),
    ]);
    for (const name of [
      'clientSecret',
      'clockToleranceSec',
      'introspect',
      'azp',
      'identity',
      'jwksCooldownMs',
      'verifiedTokenCacheMax',
      'clock',
      'httpTimeoutMs',
    ]) {
      expect(byName(name), name).toHaveLength(1);
    }
    expect(byName('verifiedTokenCacheMax')[0]).not.toMatch(/is required/);
    expect(error.details).toContain('unknownOption: unknown option');
    expect(error.message).toMatch(/^bearerAuth: invalid configuration:\n {2}- /);
  });

  it('clientId and clientSecret go together; "always" needs them', () => {
    expect(configError({ audience: 'a', clientSecret: 's' }).details).toEqual([
      expect.stringMatching(/^clientId: clientId and clientSecret go together/),
    ]);
    expect(configError({ audience: 'a', introspect: 'always' }).details).toEqual([
      expect.stringMatching(/^introspect: "always" needs clientId and clientSecret/),
    ]);
  });

  it("defaults: CERN's issuer, asymmetric algorithms, 30 s tolerance, opaque introspection", () => {
    const config = resolveBearerConfig({ audience: 'my-api' });
    expect(config).toMatchObject({
      issuers: ['https://auth.cern.ch/auth/realms/cern'],
      audiences: ['my-api'],
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      clockToleranceSec: 30,
      introspect: 'opaque',
      client: undefined,
      jwksCooldownMs: 1000,
      verifiedTokenCacheMax: 10_000,
      httpTimeoutMs: 10_000,
    });
  });

  it('optional is a boolean, false by default; issuerExplicit says whether issuer was passed', () => {
    expect(resolveBearerConfig({ audience: 'a' })).toMatchObject({ optional: false, issuerExplicit: false });
    expect(
      resolveBearerConfig({ audience: 'a', optional: true, issuer: 'https://auth.cern.ch/auth/realms/cern' }),
    ).toMatchObject({ optional: true, issuerExplicit: true });
    expect(configError({ audience: 'a', optional: 'yes' }).details).toEqual([
      expect.stringMatching(/^optional: /),
    ]);
  });

  it('env fallbacks: CERN_SSO_ISSUER; CERN_SSO_CLIENT_ID/SECRET only with an explicit introspect', () => {
    vi.stubEnv('CERN_SSO_ISSUER', 'https://auth.cern.ch/auth/realms/cern-qa');
    vi.stubEnv('CERN_SSO_CLIENT_ID', 'api');
    vi.stubEnv('CERN_SSO_CLIENT_SECRET', 'secret');
    const config = resolveBearerConfig({ audience: ['a', 'b', 'a'] });
    expect(config.issuers).toEqual(['https://auth.cern.ch/auth/realms/cern-qa']);
    expect(config.audiences).toEqual(['a', 'b']);
    // Credentials in the environment (there for cernSso()) do not switch introspection on.
    expect(config.client).toBeUndefined();
    for (const introspect of ['opaque', 'always'] as const) {
      expect(resolveBearerConfig({ audience: 'a', introspect }).client, introspect).toEqual({
        clientId: 'api',
        clientSecret: 'secret',
      });
    }
    expect(resolveBearerConfig({ audience: 'a', introspect: 'never' }).client).toBeUndefined();
    // Explicit options need no introspect.
    expect(resolveBearerConfig({ audience: 'a', clientId: 'mine', clientSecret: 's' }).client).toEqual({
      clientId: 'mine',
      clientSecret: 's',
    });
  });

  it('an explicit introspect other than "never" without any credentials names the option', () => {
    for (const introspect of ['opaque', 'always'] as const) {
      const error = configError({ audience: 'a', introspect });
      expect(error.code).toBe('ERR_CONFIG');
      expect(error.details).toEqual([
        `introspect: "${introspect}" needs clientId and clientSecret (options, or CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET)`,
      ]);
    }
    expect(() => bearerAuth({ audience: 'a', introspect: 'never' })).not.toThrow();
    expect(() => bearerAuth({ audience: 'a' })).not.toThrow();
  });

  it('introspectionsPerSecond: a positive number, default 20', () => {
    expect(resolveBearerConfig({ audience: 'a' }).introspectionsPerSecond).toBe(20);
    expect(resolveBearerConfig({ audience: 'a', introspectionsPerSecond: 0.5 }).introspectionsPerSecond).toBe(
      0.5,
    );
    for (const bad of [0, -1, 'fast']) {
      expect(configError({ audience: 'a', introspectionsPerSecond: bad }).details).toEqual([
        expect.stringMatching(/^introspectionsPerSecond: /),
      ]);
    }
  });

  it('plain http is accepted for loopback issuers only', () => {
    expect(
      resolveBearerConfig({ audience: 'a', issuer: 'http://127.0.0.1:8080/auth/realms/cern' }).issuers,
    ).toEqual(['http://127.0.0.1:8080/auth/realms/cern']);
    expect(
      resolveBearerConfig({ audience: 'a', issuer: 'http://localhost:8080/realms/x' }).issuers,
    ).toHaveLength(1);
    expect(configError({ audience: 'a', issuer: 'http://10.0.0.1/realms/x' }).details[0]).toMatch(
      /^issuer: must use https/,
    );
  });
});
