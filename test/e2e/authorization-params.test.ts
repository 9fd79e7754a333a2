/**
 * `/login?...` authorization parameters and the `authorizationParams` option, through real HTTP
 * against the emulator: what reaches the authorization URL, what never does, and the `max_age`
 * check of the ID token's `auth_time` at the callback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { SEALED_PREFIX } from '../../src/auth/login-cookies.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { loginSteps } from '../helpers/login-steps.js';

let emulator: CernSsoEmulator;
let app: TestApp;
/** Same app with defaults: `kc_idp_hint` and `ui_locales`. */
let withDefaults: TestApp;
const steps = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator);
  withDefaults = await startTestApp(emulator, {
    clientId: 'defaults-app',
    sso: { authorizationParams: { kc_idp_hint: 'eduGAIN', ui_locales: 'fr', max_age: 7200 } },
  });
});
afterAll(async () => {
  await app.close();
  await withDefaults.close();
  await emulator.close();
});

/** `GET /login<query>` on `base`: the authorization URL it redirects to. */
async function authorizeUrl(query: string, base = app.baseUrl, browser = new TestBrowser()): Promise<URL> {
  const response = await browser.request(`${base}/login${query}`);
  expect(response.status).toBe(302);
  const url = new URL(response.headers.get('location') ?? '');
  expect(url.origin).toBe(new URL(emulator.issuer).origin);
  return url;
}

describe('/login passes the allowed authorization parameters through', () => {
  it.each([
    ['prompt', 'login'],
    ['prompt', 'none'],
    ['prompt', 'consent'],
    ['prompt', 'select_account'],
    ['login_hint', 'jdoe@cern.ch'],
    ['kc_idp_hint', 'eduGAIN'],
    ['ui_locales', 'fr en'],
    ['max_age', '0'],
    ['max_age', '3600'],
    ['acr_values', 'urn:cern:2fa 2'],
  ])('%s=%s reaches the authorization URL', async (name, value) => {
    const url = await authorizeUrl(`?${new URLSearchParams({ [name]: value, returnTo: '/x' }).toString()}`);
    expect(url.searchParams.getAll(name)).toEqual([value]);
  });

  it('disallowed and reserved parameters never reach it; the library sets its own', async () => {
    const query = new URLSearchParams([
      ['redirect_uri', 'https://evil.example/cb'],
      ['state', 'x'],
      ['nonce', 'n'],
      ['response_type', 'token'],
      ['response_mode', 'fragment'],
      ['client_id', 'other-app'],
      ['scope', 'openid offline_access'],
      ['code_challenge', 'c'.repeat(43)],
      ['code_challenge_method', 'plain'],
      ['__proto__', 'x'],
      ['__proto__[prompt]', 'none'],
      ['constructor', 'x'],
      ['request_uri', 'https://evil.example/req'],
      ['claims', '{}'],
    ]);
    const url = await authorizeUrl(`?${query.toString()}`);
    const params = url.searchParams;
    expect(url.href).not.toContain('evil');
    expect(params.get('redirect_uri')).toBe(`${app.baseUrl}/oidc/callback`);
    expect(params.get('state')).not.toBe('x');
    expect(params.get('nonce')).not.toBe('n');
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe('test-app');
    expect(params.get('scope')).toBe('openid profile email');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).not.toBe('c'.repeat(43));
    for (const name of ['response_mode', 'prompt', '__proto__', 'constructor', 'request_uri', 'claims']) {
      expect(params.has(name), name).toBe(false);
    }
    for (const name of params.keys()) {
      expect(params.getAll(name), name).toHaveLength(1);
    }
  });

  it('an invalid or repeated value is dropped and the login goes on without it', async () => {
    const query = new URLSearchParams([
      ['prompt', 'always'],
      ['max_age', '-1'],
      ['acr_values', 'a<b'],
      ['kc_idp_hint', 'a b'],
      ['login_hint', 'x'.repeat(257)],
      ['ui_locales', 'fr'],
      ['ui_locales', 'en'],
    ]);
    const url = await authorizeUrl(`?${query.toString()}`);
    for (const name of ['prompt', 'max_age', 'acr_values', 'kc_idp_hint', 'login_hint', 'ui_locales']) {
      expect(url.searchParams.has(name), name).toBe(false);
    }
  });
});

describe('authorizationParams defaults', () => {
  it('go with every login', async () => {
    const params = (await authorizeUrl('?returnTo=/x', withDefaults.baseUrl)).searchParams;
    expect(params.get('kc_idp_hint')).toBe('eduGAIN');
    expect(params.get('ui_locales')).toBe('fr');
    expect(params.get('max_age')).toBe('7200');
  });

  it('a valid query value overrides a default; an invalid one leaves the default', async () => {
    const params = (await authorizeUrl('?ui_locales=en&kc_idp_hint=a%20b&max_age=60', withDefaults.baseUrl))
      .searchParams;
    expect(params.getAll('ui_locales')).toEqual(['en']);
    expect(params.getAll('kc_idp_hint')).toEqual(['eduGAIN']);
    expect(params.getAll('max_age')).toEqual(['60']);
  });

  it('a login with a max_age default completes (auth_time present and recent)', async () => {
    emulator.setAutoLogin('jdoe');
    try {
      const browser = new TestBrowser();
      const page = await browser.navigate(`${withDefaults.baseUrl}/login?returnTo=%2Fprofile`);
      expect(page.status).toBe(200);
      expect(page.body).toBe('profile of John Doe');
    } finally {
      emulator.setAutoLogin(false);
    }
  });
});

describe('max_age is checked at the callback', () => {
  /** An app whose clock is two minutes ahead of the emulator's: its logins look 120 s old. */
  let late: TestApp;
  beforeAll(async () => {
    late = await startTestApp(emulator, {
      clientId: 'late-app',
      sso: { clock: { now: () => Date.now() + 120_000 }, clockToleranceSec: 5 },
    });
  });
  afterAll(async () => {
    await late.close();
  });

  async function loginAt(query: string) {
    const browser = new TestBrowser();
    const authorize = await authorizeUrl(query, late.baseUrl, browser);
    const callback = await steps.authorizeAs('jdoe', authorize);
    const answer = await browser.request(callback.href, { headers: { accept: 'application/json' } });
    return { browser, answer };
  }

  it('an ID token whose auth_time is older than the max_age sent is refused; nobody is signed in', async () => {
    const { browser, answer } = await loginAt('?max_age=60&returnTo=/api/me');
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(((await answer.json()) as { code: string }).code).toBe('ERR_LOGIN_FAILED');
    expect(await steps.whoAmI(browser, late.baseUrl)).toBeUndefined();
  });

  it('the same login within max_age, or without one, completes', async () => {
    for (const query of ['?max_age=3600&returnTo=/api/me', '?returnTo=/api/me']) {
      const { browser, answer } = await loginAt(query);
      expect(answer.status, query).toBe(302);
      expect(await steps.whoAmI(browser, late.baseUrl)).toBe('jdoe');
    }
  });
});

describe('the sealed pending login', () => {
  const everything = {
    prompt: 'select_account',
    max_age: '999999999',
    // "1" is what the emulator (like Keycloak without an ACR-to-LoA mapping) answers after a
    // login: the callback checks the ID token's acr is one of the values asked.
    acr_values: `${'a'.repeat(61)} 1 ${'b'.repeat(64)}`,
    login_hint: 'x'.repeat(256),
    kc_idp_hint: 'k'.repeat(64),
    ui_locales: 'u'.repeat(64),
  };

  /** Starts a login with every parameter at its longest; the sealed cookie and where it ends. */
  async function longest(returnTo: string) {
    const browser = new TestBrowser();
    const query = new URLSearchParams({ returnTo, ...everything });
    const url = await authorizeUrl(`?${query.toString()}`, app.baseUrl, browser);
    expect(url.searchParams.get('acr_values')).toHaveLength(128);
    const sealed = [...(browser.cookies.get('localhost') ?? new Map<string, string>())].filter(([name]) =>
      name.startsWith(SEALED_PREFIX),
    );
    expect(sealed).toHaveLength(1);
    const callback = await steps.authorizeAs('jdoe', url);
    const done = await browser.request(callback.href);
    expect(done.status).toBe(302);
    return { size: sealed[0]![0].length + sealed[0]![1].length, landed: done.headers.get('location') };
  }

  it('stays under 1200 bytes: the recorded parameters take their room from returnTo', async () => {
    // 512 - 188 (the recorded prompt, max_age and acr_values at their longest): kept.
    const fits = `/search?q=${'a'.repeat(1000)}`.slice(0, 324);
    const kept = await longest(fits);
    expect(kept.landed).toBe(fits);
    expect(kept.size).toBeLessThan(1200);
    const tooLong = await longest(`${fits}b`);
    expect(tooLong.landed).toBe('/');
    expect(tooLong.size).toBeLessThan(1200);
  });
});
