import { afterEach, describe, expect, it } from 'vitest';
import { cernSso, CernSsoError } from 'express-cern-sso';
import { isLoopbackHost, resolveSsoConfig } from '../../src/config.js';

const valid = {
  clientId: 'my-app',
  clientSecret: 's3cret',
  baseUrl: 'https://myapp.web.cern.ch',
};

function configError(run: () => unknown): CernSsoError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    return error as CernSsoError;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('applies CERN production defaults', () => {
    const config = resolveSsoConfig(valid);
    expect(config.issuer).toBe('https://auth.cern.ch/auth/realms/cern');
    expect(config.authzApiUrl).toBe('https://authorization-service-api.web.cern.ch');
    expect(config.scope).toBe('openid profile email');
    expect(config.routes).toEqual({
      login: '/login',
      callback: '/oidc/callback',
      logout: '/logout',
      backchannelLogout: '/oidc/backchannel-logout',
      postLogoutRedirect: '/',
    });
    expect(config.idpLogout).toBe(true);
    expect(config.groupsTtlMs).toBe(30 * 60_000);
    expect(config.staleTtlMs).toBe(7 * 24 * 3_600_000);
    expect(config.phonePrefix).toBe('+412276');
    expect(config.httpTimeoutMs).toBe(10_000);
    expect(config.extraSearchFilters).toEqual([]);
  });

  it('reads CERN_SSO_* environment variables when options are absent', () => {
    process.env.CERN_SSO_CLIENT_ID = 'env-app';
    process.env.CERN_SSO_CLIENT_SECRET = 'env-secret';
    process.env.CERN_SSO_BASE_URL = 'https://env.web.cern.ch/';
    process.env.CERN_SSO_ISSUER = 'https://keycloak-qa.cern.ch/auth/realms/cern';
    process.env.CERN_SSO_AUTHZ_API_URL = 'https://authorization-service-api-qa.web.cern.ch';
    const config = resolveSsoConfig({});
    expect(config.clientId).toBe('env-app');
    expect(config.baseUrl).toBe('https://env.web.cern.ch');
    expect(config.issuer).toBe('https://keycloak-qa.cern.ch/auth/realms/cern');
    expect(config.authzApiUrl).toBe('https://authorization-service-api-qa.web.cern.ch');
    // Explicit options win over the environment.
    expect(resolveSsoConfig({ ...valid }).clientId).toBe('my-app');
  });

  it('reports every problem at once, by option name, as ERR_CONFIG', () => {
    delete process.env.CERN_SSO_CLIENT_ID;
    delete process.env.CERN_SSO_CLIENT_SECRET;
    delete process.env.CERN_SSO_BASE_URL;
    const error = configError(() =>
      cernSso({
        issuer: 'http://auth.cern.ch/auth/realms/cern',
        scope: 'profile email',
        httpTimeoutMs: -1,
        routes: { login: 'login' },
      }),
    );
    expect(error.code).toBe('ERR_CONFIG');
    const names = error.details.map((line) => line.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'clientId',
        'clientSecret',
        'baseUrl',
        'issuer',
        'scope',
        'httpTimeoutMs',
        'routes.login',
      ]),
    );
    expect(error.message).toContain('issuer: must use https');
    expect(error.message).toContain('scope: must contain "openid"');
  });

  it('rejects unknown options and non-object options', () => {
    expect(configError(() => cernSso({ ...valid, clientID: 'typo' } as never)).message).toContain(
      'clientID: unknown option',
    );
    expect(configError(() => cernSso('nope' as never)).code).toBe('ERR_CONFIG');
  });

  it('allows plain http only for loopback hosts', () => {
    for (const issuer of [
      'http://localhost:8080/auth/realms/cern',
      'http://127.0.0.5:1/x',
      'http://[::1]:9/x',
    ]) {
      expect(resolveSsoConfig({ ...valid, issuer }).issuer).toBe(issuer);
    }
    for (const issuer of [
      'http://10.0.0.1/x',
      'http://auth.cern.ch/x',
      'http://localhost.evil.com/x',
      'ftp://x',
    ]) {
      expect(configError(() => resolveSsoConfig({ ...valid, issuer })).message).toContain('issuer');
    }
    expect(isLoopbackHost('foo.localhost')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('lets routes be disabled with false', () => {
    const config = resolveSsoConfig({ ...valid, routes: { backchannelLogout: false } });
    expect(config.routes.backchannelLogout).toBe(false);
    expect(config.routes.login).toBe('/login');
  });
});

describe('configuration type errors', () => {
  it('says what is wrong with a value of the wrong type (not "is required")', () => {
    const error = (() => {
      try {
        resolveSsoConfig({
          clientId: 'a',
          clientSecret: 'b',
          baseUrl: 'https://x.cern.ch',
          httpTimeoutMs: 1.5,
        });
      } catch (e) {
        return e as CernSsoError;
      }
      throw new Error('expected an error');
    })();
    expect(error.details[0]).toMatch(/^httpTimeoutMs: /);
    expect(error.details[0]).not.toMatch(/is required/);
  });
});
