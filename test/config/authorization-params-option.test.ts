import { describe, expect, it } from 'vitest';
import { cernSso, CernSsoError, type AuthorizationParams } from 'express-cern-sso';
import { resolveSsoConfig } from '../../src/config.js';

const valid = { clientId: 'my-app', clientSecret: 's3cret', baseUrl: 'https://myapp.web.cern.ch' };

function problems(authorizationParams: unknown): readonly string[] {
  try {
    cernSso({ ...valid, authorizationParams: authorizationParams as AuthorizationParams });
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    expect((error as CernSsoError).code).toBe('ERR_CONFIG');
    return (error as CernSsoError).details;
  }
  throw new Error('expected a configuration error');
}

describe('the authorizationParams option', () => {
  it('accepts every allowed parameter with a valid value', () => {
    const params: AuthorizationParams = {
      prompt: 'login',
      login_hint: 'jdoe@cern.ch',
      kc_idp_hint: 'eduGAIN',
      ui_locales: 'fr en',
      max_age: 3600,
      acr_values: 'urn:cern:2fa 2',
    };
    expect(resolveSsoConfig({ ...valid, authorizationParams: params }).authorizationParams).toEqual(params);
    expect(resolveSsoConfig(valid).authorizationParams).toBeUndefined();
  });

  it('an unknown key is ERR_CONFIG naming authorizationParams.<key> and listing the allowed ones', () => {
    expect(problems({ foo: 'x' })).toEqual([
      'authorizationParams.foo: is not an allowed authorization parameter (allowed: prompt, login_hint, kc_idp_hint, ui_locales, max_age, acr_values)',
    ]);
  });

  it.each([
    ['state', 'is set by the library for every login and cannot be overridden'],
    ['nonce', 'is set by the library for every login and cannot be overridden'],
    ['code_challenge', 'is set by the library for every login and cannot be overridden'],
    ['code_challenge_method', 'is set by the library for every login and cannot be overridden'],
    ['redirect_uri', 'is set by the library for every login and cannot be overridden'],
    ['response_type', 'is set by the library for every login and cannot be overridden'],
    ['client_id', 'is set by the library for every login and cannot be overridden'],
    ['scope', 'cannot be set here: use the scope option'],
  ])('%s cannot be overridden', (name, message) => {
    expect(problems({ [name]: 'x' })).toEqual([`authorizationParams.${name}: ${message}`]);
  });

  it('each invalid value is named with its rule, all at once', () => {
    expect(
      problems({
        prompt: 'always',
        login_hint: '',
        kc_idp_hint: 'a b',
        ui_locales: 'fr;en',
        max_age: -1,
        acr_values: 'a  b',
      }),
    ).toEqual([
      'authorizationParams.prompt: must be one of "none", "login", "consent", "select_account"',
      'authorizationParams.login_hint: must be 1 to 256 characters without control characters',
      'authorizationParams.kc_idp_hint: must match [A-Za-z0-9_.-]{1,64}',
      'authorizationParams.ui_locales: must be language tags separated by single spaces, at most 64 characters',
      'authorizationParams.max_age: must be an integer from 0 to 999999999 (seconds)',
      'authorizationParams.acr_values: must be tokens of [A-Za-z0-9._:/-] separated by single spaces, at most 128 characters',
    ]);
    expect(problems({ max_age: '60' })).toEqual([
      'authorizationParams.max_age: must be an integer from 0 to 999999999 (seconds)',
    ]);
    expect(problems({ max_age: 1.5 })).toHaveLength(1);
  });

  it('must be an object', () => {
    for (const value of ['prompt=none', ['prompt'], null]) {
      expect(problems(value)).toEqual(['authorizationParams: must be an object of authorization parameters']);
    }
  });
});
