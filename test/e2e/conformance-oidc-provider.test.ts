/**
 * Conformance of the login flow against oidc-provider, a standards-strict OpenID Provider
 * (PKCE required, single-use codes, RFC 9207 `iss`, registered client authentication only,
 * RP-initiated logout with `id_token_hint`). The app runs on `localhost`, the OP on `127.0.0.1`,
 * so the test browser keeps their cookies apart as a real browser would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Express } from 'express';
import session, { type SessionData } from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CernSsoError, cernSso, requireAuth, type CernSso, type CernUser } from 'express-cern-sso';
import { loginCookieKeys } from '../../src/auth/login-key.js';
import { BINDING_COOKIE, bindingDigest } from '../../src/auth/browser-binding.js';
import { SEALED_PREFIX, loginCookieId } from '../../src/auth/login-cookies.js';
import { sealPendingLogin } from '../../src/auth/login-seal.js';
import { TestBrowser, type BrowserResponse, type Hop } from '../helpers/browser.js';
import { startReferenceOp, type ReferenceOp } from '../helpers/oidc-provider.js';

const CLIENT_ID = 'conformance-app';
const CLIENT_SECRET = 'conformance-secret-0123456789';
const SESSION_COOKIE = 'app.sid';
const APP_HOST = 'localhost';
const JSON_ACCEPT = { accept: 'application/json' };
const noop = (): void => undefined;
const silent = { debug: noop, info: noop, warn: noop, error: noop };

type AuthMethod = 'client_secret_basic' | 'client_secret_post';

interface MeBody {
  isAuthenticated: boolean;
  user: CernUser | undefined;
  iss: unknown;
  aud: unknown;
  nonce: unknown;
}

interface ErrorBody {
  error: string;
  error_description: string;
  code: string;
}

// ---------------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------------

interface TestApp {
  url: string;
  callbackUrl: string;
  store: session.MemoryStore;
  /** Builds the express app with `cernSso()` once the OP's issuer is known. */
  mount(options: { issuer: string; tokenEndpointAuthMethod?: AuthMethod; clientSecret?: string }): void;
  close(): Promise<void>;
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => {
    server.close((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Starts the app's HTTP server first (port 0), so its redirect URI is known before the OP starts. */
async function startApp(): Promise<TestApp> {
  let app: Express | undefined;
  let sso: CernSso | undefined;
  const server = createServer((req, res) => {
    if (app) {
      app(req, res);
    } else {
      res.statusCode = 503;
      res.end();
    }
  });
  const port = await listen(server, APP_HOST);
  const url = `http://${APP_HOST}:${port}`;
  const store = new session.MemoryStore();
  return {
    url,
    callbackUrl: `${url}/oidc/callback`,
    store,
    mount({ issuer, tokenEndpointAuthMethod, clientSecret = CLIENT_SECRET }) {
      const instance = express();
      instance.use(
        session({
          name: SESSION_COOKIE,
          secret: 'conformance-session-secret',
          resave: false,
          saveUninitialized: false,
          store,
          cookie: { sameSite: 'lax', httpOnly: true },
        }),
      );
      sso = cernSso({
        clientId: CLIENT_ID,
        clientSecret,
        baseUrl: url,
        issuer,
        logger: silent,
        ...(tokenEndpointAuthMethod ? { tokenEndpointAuthMethod } : {}),
      });
      instance.use(sso);
      instance.get('/', (_req, res) => {
        res.type('text').send('home');
      });
      instance.get('/me', requireAuth(), (req, res) => {
        const claims = req.sso.claims;
        const body: MeBody = {
          isAuthenticated: req.sso.isAuthenticated(),
          user: req.sso.user,
          iss: claims?.iss,
          aud: claims?.aud,
          nonce: claims?.nonce,
        };
        res.json(body);
      });
      // Never echo an access token in a real app: the length is enough for the tests.
      instance.get('/token', requireAuth(), async (req, res) => {
        const token = await req.sso.getAccessToken();
        res.json({ length: token.length });
      });
      // getAccessToken() rejects with a CernSsoError (status, code, safe message): answer it as JSON.
      const onError: ErrorRequestHandler = (error, _req, res, next) => {
        if (!(error instanceof CernSsoError)) {
          next(error);
          return;
        }
        res
          .status(error.status)
          .set(error.headers)
          .json({ code: error.code, error_description: error.message });
      };
      instance.use(onError);
      app = instance;
    },
    async close() {
      await sso?.close();
      await closeServer(server);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A test browser that can stop right before a redirect (to inspect or tamper with the callback)
// ---------------------------------------------------------------------------------------------

type NavigateInit = NonNullable<Parameters<TestBrowser['navigate']>[1]>;

class ConformanceBrowser extends TestBrowser {
  /** When set, redirects to matching URLs are not followed: the redirect response is returned. */
  stopBefore: ((url: string) => boolean) | undefined;

  override async navigate(url: string, init: NavigateInit = {}): Promise<BrowserResponse> {
    const stop = this.stopBefore;
    if (!stop) return super.navigate(url, init);
    const hops: Hop[] = [];
    let current = url;
    let request: NavigateInit = init;
    for (let i = 0; i <= (init.maxHops ?? 15); i++) {
      const response = await this.request(current, request);
      const location = response.headers.get('location');
      hops.push({ url: current, status: response.status, ...(location ? { location } : {}) });
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        const next = new URL(location, current).href;
        if (stop(next))
          return { url: current, status: response.status, headers: response.headers, body: '', hops };
        current = next;
        request =
          response.status === 307 || response.status === 308 ? request : { headers: init.headers ?? {} };
        continue;
      }
      return {
        url: current,
        status: response.status,
        headers: response.headers,
        body: await response.text(),
        hops,
      };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  sessionCookie(): string | undefined {
    return this.cookie(APP_HOST, SESSION_COOKIE);
  }

  /** A fresh browser holding only a copy of this one's app session cookie. */
  withCopiedSessionCookie(cookie: string): ConformanceBrowser {
    return this.withCopiedCookies(new Map([[SESSION_COOKIE, cookie]]));
  }

  /** A fresh browser holding only copies of the given app cookies. */
  withCopiedCookies(cookies: ReadonlyMap<string, string>): ConformanceBrowser {
    const copy = new ConformanceBrowser();
    copy.cookies.set(APP_HOST, new Map(cookies));
    return copy;
  }

  /** The app's cookies (a copy), e.g. the login cookies before the callback. */
  appCookies(): Map<string, string> {
    return new Map(this.cookies.get(APP_HOST));
  }
}

interface PendingCallback {
  /** The authorization request our `/login` sent the browser to. */
  authorizeUrl: URL;
  /** The OP's redirect back to our callback (the authorization response), not yet followed. */
  callbackUrl: URL;
  /** The app's cookies before the callback: the login cookies set by `/login`, no session. */
  preLoginCookies: Map<string, string>;
  /** Every hop from the authorization request up to (excluding) the callback. */
  hops: Hop[];
}

function isLoginForm(page: BrowserResponse): boolean {
  return page.status === 200 && page.body.includes('name="prompt" value="login"');
}

function isConsentForm(page: BrowserResponse): boolean {
  return page.status === 200 && page.body.includes('name="prompt" value="consent"');
}

/** `/login` on the app, then the OP's dev login form (and consent form, if shown), up to the callback. */
async function signInUntilCallback(
  browser: ConformanceBrowser,
  app: TestApp,
  options: { login?: string; returnTo?: string } = {},
): Promise<PendingCallback> {
  const sessionBefore = browser.sessionCookie();
  const start = await browser.request(
    `${app.url}/login?returnTo=${encodeURIComponent(options.returnTo ?? '/me')}`,
  );
  await start.arrayBuffer();
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get('location') ?? '');
  // Nothing stored on the server before the callback: no session (cookie), a sealed login cookie.
  expect(browser.sessionCookie(), '/login must not create or change a session').toBe(sessionBefore);
  const state = authorizeUrl.searchParams.get('state') ?? '';
  expect(browser.cookie(APP_HOST, `${SEALED_PREFIX}${loginCookieId(state)}`)).toBeDefined();
  const preLoginCookies = browser.appCookies();

  browser.stopBefore = (url) => url.startsWith(app.callbackUrl);
  try {
    let page = await browser.navigate(authorizeUrl.href);
    const hops = [...page.hops];
    if (isLoginForm(page)) {
      page = await browser.submitForm(page, { login: options.login ?? 'jdoe', password: 'any' });
      hops.push(...page.hops);
    }
    if (isConsentForm(page)) {
      page = await browser.submitForm(page, {});
      hops.push(...page.hops);
    }
    const location = page.headers.get('location');
    if (page.status < 300 || page.status >= 400 || !location) {
      throw new Error(`the OP did not redirect back to the app: ${page.status} ${page.url}\n${page.body}`);
    }
    return {
      authorizeUrl,
      callbackUrl: new URL(location, page.url),
      preLoginCookies,
      hops,
    };
  } finally {
    browser.stopBefore = undefined;
  }
}

/** A complete sign-in that ends at `returnTo` (default `/me`). */
async function signIn(
  browser: ConformanceBrowser,
  app: TestApp,
  options: { login?: string; returnTo?: string } = {},
): Promise<{ pending: PendingCallback; final: BrowserResponse }> {
  const pending = await signInUntilCallback(browser, app, options);
  const final = await browser.navigate(pending.callbackUrl.href);
  return { pending, final };
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the body it expects
async function getJson<T>(browser: TestBrowser, url: string): Promise<{ status: number; body: T }> {
  const response = await browser.request(url, { headers: JSON_ACCEPT });
  return { status: response.status, body: (await response.json()) as T };
}

// ---------------------------------------------------------------------------------------------
// Session store access (to snapshot and restore a session, as a replaying attacker could)
// ---------------------------------------------------------------------------------------------

function sessionIdOf(cookie: string): string {
  const signed = decodeURIComponent(cookie);
  expect(signed.startsWith('s:')).toBe(true);
  return signed.slice(2, signed.lastIndexOf('.'));
}

function readSession(store: session.MemoryStore, sid: string): Promise<SessionData | undefined> {
  return new Promise((resolve, reject) => {
    store.get(sid, (error: unknown, data?: SessionData | null) => {
      if (error)
        reject(error instanceof Error ? error : new Error('session store failure', { cause: error }));
      else resolve(data ?? undefined);
    });
  });
}

function withQuery(url: URL, change: (params: URLSearchParams) => void): string {
  const copy = new URL(url);
  change(copy.searchParams);
  return copy.href;
}

function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const [, payload = ''] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A 4xx answer with a readable message, as an HTML page for browsers. */
function expectHtmlError(page: BrowserResponse, status: number, message: RegExp): void {
  expect(page.status).toBe(status);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(page.body).toMatch(message);
  expect(page.body).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
}

async function expectSignedOut(browser: TestBrowser, app: TestApp): Promise<void> {
  const me = await getJson<ErrorBody>(browser, `${app.url}/me`);
  expect(me.status).toBe(401);
  expect(me.body.code).toBe('ERR_NOT_AUTHENTICATED');
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one OP + app per configuration
// ---------------------------------------------------------------------------------------------

interface Setup {
  op: ReferenceOp;
  app: TestApp;
}

/** An OP whose client is registered for `apps`' callbacks, and those apps mounted against it. */
async function setup(
  apps: { app: TestApp; tokenEndpointAuthMethod?: AuthMethod; clientSecret?: string }[],
  op: Omit<Parameters<typeof startReferenceOp>[0], 'clientId' | 'clientSecret' | 'redirectUris'>,
): Promise<ReferenceOp> {
  const reference = await startReferenceOp({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: apps.map(({ app }) => app.callbackUrl),
    postLogoutRedirectUris: apps.map(({ app }) => `${app.url}/`),
    ...op,
  });
  for (const { app, ...options } of apps) app.mount({ issuer: reference.issuer, ...options });
  return reference;
}

const closers: (() => Promise<void>)[] = [];
let main: Setup; // client_secret_basic (our default), no consent screen
let post: Setup; // client_secret_post, with the OP's consent screen
let wrongSecret: TestApp; // configured with a client secret the OP does not know
let refresh: Setup; // access tokens that are already inside our 30 s refresh margin

beforeAll(async () => {
  const [mainApp, postApp, wrongSecretApp, refreshApp] = await Promise.all([
    startApp(),
    startApp(),
    startApp(),
    startApp(),
  ]);
  for (const app of [mainApp, postApp, wrongSecretApp, refreshApp]) closers.push(() => app.close());
  wrongSecret = wrongSecretApp;
  const [mainOp, postOp, refreshOp] = await Promise.all([
    setup([{ app: mainApp }], { tokenEndpointAuthMethod: 'client_secret_basic' }),
    setup(
      [
        { app: postApp, tokenEndpointAuthMethod: 'client_secret_post' },
        {
          app: wrongSecretApp,
          tokenEndpointAuthMethod: 'client_secret_post',
          clientSecret: 'not-the-secret',
        },
      ],
      { tokenEndpointAuthMethod: 'client_secret_post', skipConsent: false },
    ),
    // The token endpoint answers after 100 ms, so that concurrent refreshes would overlap.
    setup([{ app: refreshApp }], {
      tokenEndpointAuthMethod: 'client_secret_basic',
      accessTokenTtlSec: 20,
      tokenEndpointDelayMs: 100,
    }),
  ]);
  for (const op of [mainOp, postOp, refreshOp]) closers.push(() => op.close());
  main = { op: mainOp, app: mainApp };
  post = { op: postOp, app: postApp };
  refresh = { op: refreshOp, app: refreshApp };
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe('conformance with oidc-provider (strict reference OP)', () => {
  it('1. a full login through the OP login form ends at returnTo with a new session id', async () => {
    const { app, op } = main;
    const browser = new ConformanceBrowser();
    const { pending, final } = await signIn(browser, app, { login: 'jdoe', returnTo: '/me' });

    // The browser went through the OP's login form (no consent screen, as at CERN).
    expect(pending.hops.some((hop) => hop.url.startsWith(`${op.issuer}/interaction/`))).toBe(true);
    // The callback redirected to returnTo, which answered with the user.
    expect(final.hops[0]).toMatchObject({ url: pending.callbackUrl.href, status: 302, location: '/me' });
    expect(final.url).toBe(`${app.url}/me`);
    expect(final.status).toBe(200);
    const me = JSON.parse(final.body) as MeBody;
    expect(me.isAuthenticated).toBe(true);
    expect(me.user).toEqual({
      login: 'jdoe',
      issuer: op.issuer,
      personId: 123456,
      email: 'jdoe@cern.ch',
      firstName: 'Jdoe',
      lastName: 'Tester',
      displayName: 'Jdoe Tester',
      preferredLanguage: 'EN',
      roles: ['default-role', 'admins'],
      accountType: 'person',
    });
    // The ID token is the OP's, for this client, bound to the nonce of this login.
    expect(me.iss).toBe(op.issuer);
    expect(me.aud).toBe(CLIENT_ID);
    expect(me.nonce).toBe(pending.authorizeUrl.searchParams.get('nonce'));

    // The session is created at the callback; signing in again gives it a new id (fixation).
    const afterLogin = browser.sessionCookie();
    expect(afterLogin).toBeDefined();
    await signIn(browser, app, { login: 'jdoe', returnTo: '/me' });
    const afterSecondLogin = browser.sessionCookie();
    expect(afterSecondLogin).toBeDefined();
    expect(afterSecondLogin).not.toBe(afterLogin);
    expect(await readSession(app.store, sessionIdOf(afterLogin ?? ''))).toBeUndefined();
    await expectSignedOut(browser.withCopiedSessionCookie(afterLogin ?? ''), app);
    // The session cookie is HttpOnly and SameSite=Lax.
    const setCookie = browser.setCookieHeaders.filter(
      ({ host, header }) => host === APP_HOST && header.startsWith(`${SESSION_COOKIE}=`),
    );
    expect(setCookie.length).toBeGreaterThanOrEqual(2);
    for (const { header } of setCookie) {
      expect(header).toMatch(/;\s*HttpOnly/i);
      expect(header).toMatch(/;\s*SameSite=Lax/i);
    }
    // The session works on the next request too.
    const again = await getJson<MeBody>(browser, `${app.url}/me`);
    expect(again.status).toBe(200);
    expect(again.body.user?.login).toBe('jdoe');
  });

  it('2. the authorization request carries PKCE S256, state and nonce, and the OP requires PKCE', async () => {
    const { app, op } = main;
    const browser = new ConformanceBrowser();
    const pending = await signInUntilCallback(browser, app);
    const params = pending.authorizeUrl.searchParams;
    expect(pending.authorizeUrl.origin + pending.authorizeUrl.pathname).toBe(`${op.issuer}/auth`);
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe(app.callbackUrl);
    expect(params.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'email']));
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    // The OP answered with a code, the same state and its issuer (RFC 9207).
    expect(pending.callbackUrl.searchParams.get('code')).toBeTruthy();
    expect(pending.callbackUrl.searchParams.get('state')).toBe(params.get('state'));
    expect(pending.callbackUrl.searchParams.get('iss')).toBe(op.issuer);

    // Every login gets its own state, nonce and code challenge.
    const other = await browser.request(`${app.url}/login`);
    await other.arrayBuffer();
    const otherParams = new URL(other.headers.get('location') ?? '').searchParams;
    for (const name of ['state', 'nonce', 'code_challenge']) {
      expect(otherParams.get(name)).not.toBe(params.get(name));
    }

    // The OP refuses an authorization request without PKCE...
    const withoutPkce = withQuery(pending.authorizeUrl, (query) => {
      query.delete('code_challenge');
      query.delete('code_challenge_method');
    });
    const refused = await new ConformanceBrowser().request(withoutPkce);
    await refused.arrayBuffer();
    const refusal = new URL(refused.headers.get('location') ?? '');
    expect(refusal.href.startsWith(app.callbackUrl)).toBe(true);
    expect(refusal.searchParams.get('error')).toBe('invalid_request');
    expect(refusal.searchParams.get('error_description')).toMatch(/PKCE/);

    // ...and checks our code_verifier: a pending login (sealed with the app's key, bound to this
    // browser) with a wrong verifier fails the exchange.
    const state = params.get('state') ?? '';
    const [key] = loginCookieKeys({ clientSecret: CLIENT_SECRET });
    const forged = await sealPendingLogin(
      {
        state,
        nonce: params.get('nonce') ?? '',
        codeVerifier: 'x'.repeat(43),
        returnTo: '/me',
        createdAt: Date.now(),
        binding: bindingDigest(browser.cookie(APP_HOST, BINDING_COOKIE) ?? ''),
      },
      key,
      60_000,
    );
    browser.cookies.get(APP_HOST)?.set(`${SEALED_PREFIX}${loginCookieId(state)}`, forged);
    const wrongVerifier = await browser.navigate(pending.callbackUrl.href, { headers: JSON_ACCEPT });
    expect(wrongVerifier.status).toBe(400);
    expect(JSON.parse(wrongVerifier.body)).toMatchObject({
      code: 'ERR_LOGIN_FAILED',
      error_description: expect.stringMatching(/authorization code or token is invalid/) as unknown,
    });
    await expectSignedOut(browser, app);
  });

  it('3. an authorization code cannot be replayed (400 with a clear message, never a 500)', async () => {
    const { app } = main;
    const browser = new ConformanceBrowser();
    const pending = await signInUntilCallback(browser, app);
    const done = await browser.navigate(pending.callbackUrl.href);
    expect(done.status).toBe(200);

    // A second browser without the login cookie (it was cleared at the callback): unknown state.
    const stranger = new ConformanceBrowser();
    expectHtmlError(
      await stranger.navigate(pending.callbackUrl.href),
      400,
      /unknown, expired or was already used/,
    );
    const asJson = await stranger.navigate(pending.callbackUrl.href, { headers: JSON_ACCEPT });
    expect(asJson.status).toBe(400);
    expect(JSON.parse(asJson.body)).toMatchObject({
      code: 'ERR_LOGIN_STATE',
      error_description: expect.stringMatching(/already used/) as unknown,
    });

    // Even with a copy of the login and binding cookies taken before the callback (state, nonce
    // and verifier valid again), the OP refuses the used code: 400 again, for browsers and for
    // API clients.
    const attacker = browser.withCopiedCookies(pending.preLoginCookies);
    expectHtmlError(
      await attacker.navigate(pending.callbackUrl.href),
      400,
      /authorization code or token is invalid, expired or was already used/,
    );
    const replayer = browser.withCopiedCookies(pending.preLoginCookies);
    const replayJson = await replayer.navigate(pending.callbackUrl.href, { headers: JSON_ACCEPT });
    expect(replayJson.status).toBe(400);
    expect(JSON.parse(replayJson.body)).toMatchObject({
      code: 'ERR_LOGIN_FAILED',
      error_description: expect.stringMatching(
        /authorization code or token is invalid, expired or was already used/,
      ) as unknown,
    });
    await expectSignedOut(attacker, app);
  });

  it('4. the RFC 9207 iss parameter is enforced: a tampered or missing iss is a 400, no session', async () => {
    const { app } = main;
    const browser = new ConformanceBrowser();
    const tampered = await signInUntilCallback(browser, app);
    const forgedIss = withQuery(tampered.callbackUrl, (query) => {
      query.set('iss', 'http://127.0.0.1:1');
    });
    expectHtmlError(await browser.navigate(forgedIss), 400, /could not be validated/);
    await expectSignedOut(browser, app);
    // The pending login was consumed by the rejected response: the genuine one is refused too.
    const genuine = await browser.navigate(tampered.callbackUrl.href, { headers: JSON_ACCEPT });
    expect(genuine.status).toBe(400);
    expect((JSON.parse(genuine.body) as ErrorBody).code).toBe('ERR_LOGIN_STATE');

    const missing = await signInUntilCallback(browser, app);
    const withoutIss = withQuery(missing.callbackUrl, (query) => {
      query.delete('iss');
    });
    const rejected = await browser.navigate(withoutIss, { headers: JSON_ACCEPT });
    expect(rejected.status).toBe(400);
    expect(JSON.parse(rejected.body)).toMatchObject({
      code: 'ERR_LOGIN_FAILED',
      error_description: expect.stringMatching(/could not be validated/) as unknown,
    });
    await expectSignedOut(browser, app);
  });

  it('5. a forged or missing state is a 400 and leaves the genuine login usable', async () => {
    const { app } = main;
    const browser = new ConformanceBrowser();
    const pending = await signInUntilCallback(browser, app);
    const forged = withQuery(pending.callbackUrl, (query) => {
      query.set('state', 'forged-state-value-0123456789');
    });
    expectHtmlError(await browser.navigate(forged), 400, /unknown, expired or was already used/);
    const forgedJson = await browser.navigate(forged, { headers: JSON_ACCEPT });
    expect(forgedJson.status).toBe(400);
    expect((JSON.parse(forgedJson.body) as ErrorBody).code).toBe('ERR_LOGIN_STATE');

    const missing = withQuery(pending.callbackUrl, (query) => {
      query.delete('state');
    });
    expectHtmlError(await browser.navigate(missing), 400, /missing its &#34;state&#34; parameter/);
    const missingJson = await browser.navigate(missing, { headers: JSON_ACCEPT });
    expect(missingJson.status).toBe(400);
    expect(JSON.parse(missingJson.body)).toMatchObject({
      code: 'ERR_LOGIN_STATE',
      error_description: expect.stringMatching(/missing its "state" parameter/) as unknown,
    });
    await expectSignedOut(browser, app);

    // Forged responses did not consume the real pending login.
    const done = await browser.navigate(pending.callbackUrl.href);
    expect(done.status).toBe(200);
    expect(done.url).toBe(`${app.url}/me`);
  });

  it('6. error=access_denied with a valid state is a 403 with a clear message', async () => {
    const { app, op } = main;

    // The user cancels on the OP's login page: the OP answers error=access_denied, state and iss.
    const browser = new ConformanceBrowser();
    const start = await browser.request(`${app.url}/login?returnTo=/me`);
    await start.arrayBuffer();
    const authorizeUrl = new URL(start.headers.get('location') ?? '');
    const loginPage = await browser.navigate(authorizeUrl.href);
    expect(isLoginForm(loginPage)).toBe(true);
    const abortUrl = /href="([^"]*\/abort)"/.exec(loginPage.body)?.[1];
    expect(abortUrl).toBeDefined();
    browser.stopBefore = (url) => url.startsWith(app.callbackUrl);
    const aborted = await browser.navigate(new URL(abortUrl ?? '', loginPage.url).href);
    browser.stopBefore = undefined;
    const callback = new URL(aborted.headers.get('location') ?? '');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(authorizeUrl.searchParams.get('state'));
    expect(callback.searchParams.get('iss')).toBe(op.issuer);
    expectHtmlError(
      await browser.navigate(callback.href),
      403,
      /cancelled or access to this application was denied/,
    );
    await expectSignedOut(browser, app);

    // A hand-made error response with a valid state (and the OP's iss): 403 JSON for API clients.
    const other = new ConformanceBrowser();
    const started = await other.request(`${app.url}/login`);
    await started.arrayBuffer();
    const state = new URL(started.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const denied = new URL(app.callbackUrl);
    denied.search = new URLSearchParams({ error: 'access_denied', state, iss: op.issuer }).toString();
    const deniedJson = await other.navigate(denied.href, { headers: JSON_ACCEPT });
    expect(deniedJson.status).toBe(403);
    expect(JSON.parse(deniedJson.body)).toMatchObject({
      code: 'ERR_LOGIN_DENIED',
      error_description: 'The sign-in was cancelled or access to this application was denied.',
    });

    // Without iss the response is rejected before its error is looked at: this OP advertises
    // authorization_response_iss_parameter_supported, so an iss-less response is not authentic.
    const again = await other.request(`${app.url}/login`);
    await again.arrayBuffer();
    const state2 = new URL(again.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const noIss = new URL(app.callbackUrl);
    noIss.search = new URLSearchParams({ error: 'access_denied', state: state2 }).toString();
    const noIssJson = await other.navigate(noIss.href, { headers: JSON_ACCEPT });
    expect(noIssJson.status).toBe(400);
    await expectSignedOut(other, app);
  });

  it('7. client_secret_basic and client_secret_post both work; a refused client is ERR_IDP_MISCONFIGURED', async () => {
    // client_secret_basic (the default), seen by the OP as an Authorization header.
    const basicBrowser = new ConformanceBrowser();
    const basic = await signIn(basicBrowser, main.app);
    expect(basic.final.status).toBe(200);
    expect(main.op.tokenRequests.length).toBeGreaterThan(0);
    expect(main.op.tokenRequests.every(({ clientAuth }) => clientAuth === 'basic')).toBe(true);

    // client_secret_post, through the OP's consent screen this time.
    const postBrowser = new ConformanceBrowser();
    const postLogin = await signIn(postBrowser, post.app, { login: 'guest.user' });
    expect(postLogin.pending.hops.filter((hop) => hop.url.includes('/interaction/')).length).toBeGreaterThan(
      1,
    );
    expect(postLogin.final.status).toBe(200);
    const me = JSON.parse(postLogin.final.body) as MeBody;
    expect(me.user?.login).toBe('guest.user');
    expect(me.user?.personId).toBeUndefined();
    expect(post.op.tokenRequests).toEqual([{ grantType: 'authorization_code', clientAuth: 'post' }]);

    // The OP refuses the client (wrong secret, invalid_client 401): the app's configuration is
    // wrong, "sign-in is misconfigured" (500 ERR_IDP_MISCONFIGURED), not the user's fault.
    const refusedBrowser = new ConformanceBrowser();
    const refused = await signInUntilCallback(refusedBrowser, wrongSecret);
    const answer = await refusedBrowser.navigate(refused.callbackUrl.href, { headers: JSON_ACCEPT });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({
      code: 'ERR_IDP_MISCONFIGURED',
      error_description: 'Sign-in is misconfigured for this application; please tell its administrators.',
    });
    await expectSignedOut(refusedBrowser, wrongSecret);
    expect(post.op.tokenRequests).toHaveLength(1);
  });

  it('8. an expiring access token is refreshed, once for concurrent requests of a session', async () => {
    const { app, op } = refresh;
    const browser = new ConformanceBrowser();
    const { final } = await signIn(browser, app);
    expect(final.status).toBe(200);
    const grants = (): string[] => op.tokenRequests.map(({ grantType }) => grantType);
    expect(grants()).toEqual(['authorization_code']);

    // expires_in (20 s) is inside the 30 s refresh margin: the first use refreshes.
    const first = await getJson<{ length: number }>(browser, `${app.url}/token`);
    expect(first.status).toBe(200);
    expect(first.body.length).toBeGreaterThan(0);
    expect(grants()).toEqual(['authorization_code', 'refresh_token']);

    // Two concurrent requests of the same session share one refresh.
    const [a, b] = await Promise.all([
      getJson<{ length: number }>(browser, `${app.url}/token`),
      getJson<{ length: number }>(browser, `${app.url}/token`),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(grants()).toEqual(['authorization_code', 'refresh_token', 'refresh_token']);

    // The session survived the refreshes.
    const me = await getJson<MeBody>(browser, `${app.url}/me`);
    expect(me.status).toBe(200);
    expect(me.body.user?.login).toBe('jdoe');
  });

  it('8b. a refresh refused by the OP (SSO session ended there) signs the user out with a 401', async () => {
    const { app, op } = refresh;
    const browser = new ConformanceBrowser();
    const { final } = await signIn(browser, app, { login: 'ended.session' });
    expect(final.status).toBe(200);

    // The user signs out at the OP directly (another app, the OP's own page): its session ends,
    // and with it the refresh tokens issued without offline_access.
    const confirm = await browser.navigate(`${op.issuer}/session/end`);
    expect(confirm.status).toBe(200);
    const signedOut = await browser.submitForm(confirm, { logout: 'yes' });
    expect(signedOut.body).toContain('Signed out.');

    const before = op.tokenRequests.length;
    const token = await getJson<ErrorBody>(browser, `${app.url}/token`);
    expect(token.status).toBe(401);
    expect(token.body.code).toBe('ERR_SESSION_EXPIRED');
    expect(op.tokenRequests).toHaveLength(before); // the refresh was refused, nothing issued
    await expectSignedOut(browser, app);
  });

  it('9. logout ends the local session and redirects to the OP end_session endpoint', async () => {
    const { app, op } = main;
    const browser = new ConformanceBrowser();
    const { final } = await signIn(browser, app, { login: 'logout.user' });
    expect(final.status).toBe(200);

    const response = await browser.request(`${app.url}/logout`);
    await response.arrayBuffer();
    expect(response.status).toBe(302);
    const endSession = new URL(response.headers.get('location') ?? '');
    expect(endSession.origin + endSession.pathname).toBe(`${op.issuer}/session/end`);
    expect(endSession.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    const hint = decodeJwtPayload(endSession.searchParams.get('id_token_hint') ?? '');
    expect(hint).toMatchObject({ iss: op.issuer, aud: CLIENT_ID, sub: 'logout.user' });

    // The local session is gone: 401 JSON for API clients, a redirect to /login for browsers.
    await expectSignedOut(browser, app);
    const page = await browser.request(`${app.url}/me`);
    await page.arrayBuffer();
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?returnTo=%2Fme');

    // The OP accepts the logout request (id_token_hint, registered post_logout_redirect_uri)
    // and sends the browser back to the app.
    const confirm = await browser.navigate(endSession.href);
    expect(confirm.status).toBe(200);
    const back = await browser.submitForm(confirm, { logout: 'yes' });
    expect(back.url).toBe(`${app.url}/`);
    expect(back.body).toBe('home');
    // The SSO session at the OP ended too: the next login asks for credentials again.
    const start = await browser.request(`${app.url}/login`);
    await start.arrayBuffer();
    const next = await browser.navigate(start.headers.get('location') ?? '');
    expect(isLoginForm(next)).toBe(true);
  });

  it('10. parallel logins in two tabs both complete (pending logins survive the session id change)', async () => {
    const { app } = main;
    const browser = new ConformanceBrowser();
    const tab1 = await signInUntilCallback(browser, app, { returnTo: '/me?tab=1' });
    // The second tab reuses the OP's SSO session: no login form, straight back to the callback.
    const tab2 = await signInUntilCallback(browser, app, { returnTo: '/me?tab=2' });
    expect(tab2.hops.some((hop) => hop.url.includes('/interaction/'))).toBe(false);

    const first = await browser.navigate(tab1.callbackUrl.href);
    expect(first.url).toBe(`${app.url}/me?tab=1`);
    expect(first.status).toBe(200);
    const second = await browser.navigate(tab2.callbackUrl.href);
    expect(second.url).toBe(`${app.url}/me?tab=2`);
    expect(second.status).toBe(200);
  });
});
