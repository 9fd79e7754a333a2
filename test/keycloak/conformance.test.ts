/**
 * Conformance against real Keycloak (the version of `keycloak.ts`, started once for the run by
 * `global-setup.ts`) with the CERN-shaped realm of `realm-cern.json`: the library, unchanged,
 * through real HTTP, on Keycloak's own login page, tokens, logout and admin API.
 *
 * The app runs on `localhost`, Keycloak on `127.0.0.1`, so the test browser keeps their cookies
 * apart as a real browser would.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  CernSsoError,
  bearerAuth,
  cernSso,
  createIdentityProvider,
  requireAuth,
  type CernSso,
  type CernUser,
} from 'express-cern-sso';
import { recordingLogger, type RecordingLogger } from '../helpers/app.js';
import { TestBrowser, type BrowserResponse } from '../helpers/browser.js';
import { KeycloakAdmin } from './admin.js';

const keycloak = inject('keycloak');

const APP_HOST = 'localhost';
const JSON_ACCEPT = { accept: 'application/json' };
const API_AUDIENCE = 'cern-api';
const secretOf = (clientId: string): string => `${clientId}-secret-0123456789`;

interface KeycloakApp {
  url: string;
  clientId: string;
  store: session.MemoryStore;
  logger: RecordingLogger;
  sso: CernSso;
  /** Back-channel logout requests the app received (from Keycloak) and the status it answered. */
  backchannelPosts: { status: number; typ: unknown; events: unknown; sid: unknown }[];
  close(): Promise<void>;
}

interface StoredTokens {
  accessToken: string;
  idToken: string;
  refreshToken?: string;
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const errorAsJson: ErrorRequestHandler = (error, _req, res, next) => {
  if (!(error instanceof CernSsoError)) {
    next(error);
    return;
  }
  res.status(error.status).set(error.headers).json({ error: error.code, message: error.message });
};

/** An app with `cernSso()` for `clientId`, whose URLs are then registered at Keycloak. */
async function startApp(admin: KeycloakAdmin, issuer: string, clientId: string): Promise<KeycloakApp> {
  const app = express();
  const store = new session.MemoryStore();
  app.use(
    session({
      name: 'app.sid',
      secret: 'keycloak-conformance-session-secret',
      resave: false,
      saveUninitialized: false,
      store,
      cookie: { sameSite: 'lax', httpOnly: true },
    }),
  );
  const backchannelPosts: KeycloakApp['backchannelPosts'] = [];
  // Records what Keycloak posts to the back-channel logout route (the library's route answers it).
  app.use('/oidc/backchannel-logout', express.urlencoded({ extended: false }), (req, res, next) => {
    const token: unknown = (req.body as Record<string, unknown> | undefined)?.logout_token;
    const [header = '', payload = ''] = typeof token === 'string' ? token.split('.') : [];
    const decode = (part: string): Record<string, unknown> =>
      part ? (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>) : {};
    res.on('finish', () => {
      const claims = decode(payload);
      backchannelPosts.push({
        status: res.statusCode,
        typ: decode(header).typ,
        events: claims.events,
        sid: claims.sid,
      });
    });
    next();
  });
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  const url = `http://${APP_HOST}:${port}`;
  const logger = recordingLogger();
  const sso = cernSso({ clientId, clientSecret: secretOf(clientId), baseUrl: url, issuer, logger });
  app.use(sso);
  app.get('/', (_req, res) => {
    res.type('text').send('home');
  });
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: req.sso.user, claims: req.sso.claims });
  });
  app.get('/token-digest', requireAuth(), async (req, res) => {
    const token = await req.sso.getAccessToken();
    const { createHash } = await import('node:crypto');
    res.json({ digest: createHash('sha256').update(token).digest('hex') });
  });
  app.get('/exchange', requireAuth(), async (req, res) => {
    const token = await req.sso.exchangeToken(API_AUDIENCE);
    res.json(decodeJwtPayload(token));
  });
  app.use(errorAsJson);
  await admin.registerApp(clientId, {
    url,
    backchannelUrl: `http://127.0.0.1:${port}/oidc/backchannel-logout`,
  });
  return {
    url,
    clientId,
    store,
    logger,
    sso,
    backchannelPosts,
    async close() {
      await closeServer(server);
      await sso.close();
    },
  };
}

/** An API protected by `bearerAuth()` for Keycloak access tokens with the API's audience. */
async function startApi(issuer: string): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(bearerAuth({ issuer, audience: API_AUDIENCE, logger: recordingLogger() }));
  app.get('/api/whoami', (req, res) => {
    res.json({ user: req.sso.user, azp: req.sso.claims?.azp });
  });
  app.use(errorAsJson);
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const [, payload = ''] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function storeGet(store: session.MemoryStore, id: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    store.get(id, (error: unknown, data?: unknown) => {
      if (error) reject(error instanceof Error ? error : new Error('session store failure'));
      else resolve((data ?? undefined) as Record<string, unknown> | undefined);
    });
  });
}

/**
 * The tokens the library keeps for the browser's signed-in session (read from the app's session
 * store: session cookie, then the session's pointer to its sign-in record).
 */
async function storedTokens(app: KeycloakApp, browser: TestBrowser): Promise<StoredTokens> {
  const cookie = decodeURIComponent(browser.cookie(APP_HOST, 'app.sid') ?? '');
  expect(cookie.startsWith('s:'), 'a signed session cookie').toBe(true);
  const sessionId = cookie.slice(2, cookie.lastIndexOf('.'));
  const data = await storeGet(app.store, sessionId);
  const ref = (data?.cernSso as { ref?: string } | undefined)?.ref ?? '';
  const record = await storeGet(app.store, ref);
  const tokens = (record?.cernSsoAuth as { tokens?: StoredTokens } | undefined)?.tokens;
  if (!tokens) throw new Error('no sign-in record for this browser');
  return tokens;
}

interface SignIn {
  /** The authorization request `/login` sent the browser to. */
  authorizeUrl: URL;
  /** Keycloak's redirect back to the callback (the authorization response). */
  callbackUrl: URL;
  /** The page the sign-in ended on (`returnTo`). */
  final: BrowserResponse;
}

function isKeycloakLoginPage(page: BrowserResponse): boolean {
  return page.status === 200 && page.body.includes('id="kc-form-login"');
}

/** `/login` on the app, Keycloak's login form, the callback, up to `returnTo` (`/me`). */
async function signIn(browser: TestBrowser, app: KeycloakApp, username: string): Promise<SignIn> {
  const start = await browser.request(`${app.url}/login?returnTo=%2Fme`);
  await start.arrayBuffer();
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get('location') ?? '');

  const loginPage = await browser.navigate(authorizeUrl.href);
  expect(isKeycloakLoginPage(loginPage), `Keycloak's login page, got ${loginPage.status}`).toBe(true);
  const form = /<form[^>]*id="kc-form-login"[^>]*>/.exec(loginPage.body)?.[0] ?? '';
  const action = /action="([^"]*)"/.exec(form)?.[1]?.replace(/&amp;/g, '&') ?? '';
  expect(action.startsWith(`${keycloak?.issuer}/login-actions/authenticate?`)).toBe(true);
  const posted = await browser.request(action, {
    method: 'POST',
    body: new URLSearchParams({ username, password: `${username}-password`, credentialId: '' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const body = await posted.text();
  const location = posted.headers.get('location');
  if (posted.status !== 302 || !location) throw new Error(`login form answered ${posted.status}: ${body}`);
  const callbackUrl = new URL(location);
  const final = await browser.navigate(callbackUrl.href);
  return { authorizeUrl, callbackUrl, final };
}

async function getJson(
  browser: TestBrowser,
  url: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await browser.request(url, { headers: JSON_ACCEPT });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe.skipIf(!keycloak)(`conformance with Keycloak ${keycloak?.version ?? ''} (CERN-shaped realm)`, () => {
  const kc = keycloak!;
  const admin = new KeycloakAdmin(kc);
  let app: KeycloakApp;
  let shortApp: KeycloakApp; // client with 20 s access tokens, inside the library's refresh margin
  let api: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    [app, shortApp, api] = await Promise.all([
      startApp(admin, kc.issuer, 'cern-app'),
      startApp(admin, kc.issuer, 'cern-app-short'),
      startApi(kc.issuer),
    ]);
  });

  afterAll(async () => {
    // Whatever beforeAll managed to start (it may have failed half-way).
    const started: ({ close(): Promise<void> } | undefined)[] = [app, shortApp, api];
    await Promise.all(started.map((server) => (server ? server.close() : Promise.resolve())));
  });

  it('discovery has every field the library uses, under the configured issuer', async () => {
    const response = await fetch(`${kc.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(kc.issuer);
    const endpoint = (path: string): string => `${kc.issuer}/protocol/openid-connect/${path}`;
    expect(discovery).toMatchObject({
      authorization_endpoint: endpoint('auth'),
      token_endpoint: endpoint('token'),
      end_session_endpoint: endpoint('logout'),
      jwks_uri: endpoint('certs'),
      introspection_endpoint: endpoint('token/introspect'),
      userinfo_endpoint: endpoint('userinfo'),
      authorization_response_iss_parameter_supported: true,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
    expect(discovery.code_challenge_methods_supported).toContain('S256');
    expect(discovery.grant_types_supported).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ]),
    );
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
    );
  });

  it('jdoe signs in on the Keycloak login page with PKCE S256, state, nonce and iss; CERN claims are mapped', async () => {
    const browser = new TestBrowser();
    const { authorizeUrl, callbackUrl, final } = await signIn(browser, app, 'jdoe');

    expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${kc.issuer}/protocol/openid-connect/auth`);
    const request = authorizeUrl.searchParams;
    expect(request.get('response_type')).toBe('code');
    expect(request.get('client_id')).toBe('cern-app');
    expect(request.get('redirect_uri')).toBe(`${app.url}/oidc/callback`);
    expect(request.get('scope')?.split(' ')).toContain('openid');
    expect(request.get('code_challenge_method')).toBe('S256');
    expect(request.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(request.get('state')).toBeTruthy();
    expect(request.get('nonce')).toBeTruthy();

    expect(callbackUrl.origin + callbackUrl.pathname).toBe(`${app.url}/oidc/callback`);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();
    expect(callbackUrl.searchParams.get('state')).toBe(request.get('state'));
    expect(callbackUrl.searchParams.get('iss')).toBe(kc.issuer);

    expect(final.url).toBe(`${app.url}/me`);
    expect(final.status).toBe(200);
    const { user, claims } = JSON.parse(final.body) as { user: CernUser; claims: Record<string, unknown> };
    expect({ ...user, roles: [...user.roles].sort() }).toEqual({
      login: 'jdoe',
      issuer: kc.issuer,
      personId: 123456,
      email: 'jdoe@example.cern',
      firstName: 'John',
      lastName: 'Doe',
      displayName: 'John Doe',
      preferredLanguage: 'EN',
      roles: ['admin', 'user'],
      accountType: 'person',
    });
    expect(claims.nonce).toBe(request.get('nonce'));
    expect(claims.aud).toBe('cern-app');
    expect(claims.azp).toBe('cern-app');
    expect(claims.typ).toBe('ID');
    expect(claims.preferred_username).toBe('jdoe');
    expect(typeof claims.sid).toBe('string');
    expect([...(claims.groups as string[])].sort()).toEqual(['IT-DEP-ADMINS', 'it-dep']);
    expect(app.logger.error).not.toHaveBeenCalled();
  });

  it('a guest without a person id signs in: no personId, French, its own roles', async () => {
    const browser = new TestBrowser();
    const { final } = await signIn(browser, app, 'guest1');
    expect(final.status).toBe(200);
    const { user, claims } = JSON.parse(final.body) as { user: CernUser; claims: Record<string, unknown> };
    expect(user).toEqual({
      login: 'guest1',
      issuer: kc.issuer,
      email: 'guest1@example.cern',
      firstName: 'Grace',
      lastName: 'Guest',
      displayName: 'Grace Guest',
      preferredLanguage: 'FR',
      roles: ['user'],
    });
    expect(Object.hasOwn(claims, 'cern_person_id')).toBe(false);
  });

  it('an access token inside the refresh margin is refreshed at Keycloak, and the refresh token rotates', async () => {
    const browser = new TestBrowser();
    const { final } = await signIn(browser, shortApp, 'jdoe');
    expect(final.status).toBe(200);
    const before = await storedTokens(shortApp, browser);
    expect(before.refreshToken).toBeTruthy();

    const first = await getJson(browser, `${shortApp.url}/token-digest`);
    const second = await getJson(browser, `${shortApp.url}/token-digest`);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.digest).not.toBe(first.body.digest); // 20 s tokens: every call refreshes

    const after = await storedTokens(shortApp, browser);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).toBeTruthy();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(decodeJwtPayload(after.idToken).sub).toBe(decodeJwtPayload(before.idToken).sub);
    expect((await getJson(browser, `${shortApp.url}/me`)).status).toBe(200);
  });

  it('logout redirects to end_session_endpoint with id_token_hint, and Keycloak returns to the app', async () => {
    const browser = new TestBrowser();
    await signIn(browser, app, 'jdoe');
    const tokens = await storedTokens(app, browser);
    const logout = await browser.request(`${app.url}/logout`);
    await logout.arrayBuffer();
    expect([302, 303]).toContain(logout.status);
    const endSession = new URL(logout.headers.get('location') ?? '');
    expect(endSession.origin + endSession.pathname).toBe(`${kc.issuer}/protocol/openid-connect/logout`);
    expect(endSession.searchParams.get('client_id')).toBe('cern-app');
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/`);
    const hint = endSession.searchParams.get('id_token_hint') ?? '';
    expect(decodeJwtPayload(hint).aud).toBe('cern-app');
    expect(hint).toBe(tokens.idToken);

    // Keycloak accepts the hint and goes straight back to the registered post-logout URI.
    const back = await browser.navigate(endSession.href);
    expect(back.url).toBe(`${app.url}/`);
    expect(back.status).toBe(200);
    expect((await getJson(browser, `${app.url}/me`)).status).toBe(401);
    // The Keycloak session is over too: the next login shows the login form again.
    const again = await browser.request(`${app.url}/login`);
    await again.arrayBuffer();
    const page = await browser.navigate(again.headers.get('location') ?? '');
    expect(isKeycloakLoginPage(page)).toBe(true);
  });

  it('bearerAuth accepts a Keycloak access token with the API audience and refuses its ID and refresh tokens', async () => {
    const browser = new TestBrowser();
    await signIn(browser, app, 'jdoe');
    const tokens = await storedTokens(app, browser);
    expect(tokens.refreshToken).toBeTruthy();
    const access = decodeJwtPayload(tokens.accessToken);
    expect(access.typ).toBe('Bearer');
    expect(access.aud).toEqual(expect.arrayContaining([API_AUDIENCE]));

    const call = (token: string): Promise<Response> =>
      fetch(`${api.url}/api/whoami`, { headers: { authorization: `Bearer ${token}`, ...JSON_ACCEPT } });
    const accepted = await call(tokens.accessToken);
    expect(accepted.status).toBe(200);
    const body = (await accepted.json()) as { user: CernUser; azp: string };
    expect(body.user).toMatchObject({ login: 'jdoe', issuer: kc.issuer, personId: 123456 });
    expect(body.azp).toBe('cern-app');

    for (const refused of [tokens.idToken, tokens.refreshToken ?? '']) {
      const response = await call(refused);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      await response.arrayBuffer();
    }
  });

  it('client credentials: the identity provider gets a Keycloak service token for the API audience', async () => {
    const identity = createIdentityProvider({
      clientId: 'cern-service',
      clientSecret: secretOf('cern-service'),
      issuer: kc.issuer,
      // Keycloak has no CERN api-access endpoint: client credentials at its token endpoint.
      apiTokenEndpoint: `${kc.issuer}/protocol/openid-connect/token`,
      logger: recordingLogger(),
    });
    try {
      // It asks for audience=authorization-service-api; Keycloak ignores that parameter for client
      // credentials, and its audience mapper gives the API's audience.
      const token = await identity.getApiToken();
      const claims = decodeJwtPayload(token);
      expect(claims).toMatchObject({ iss: kc.issuer, azp: 'cern-service', typ: 'Bearer' });
      expect([claims.aud].flat()).toContain(API_AUDIENCE);
      const response = await fetch(`${api.url}/api/whoami`, {
        headers: { authorization: `Bearer ${token}`, ...JSON_ACCEPT },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { azp: string; user: { login: string; accountType?: string } };
      expect(body.azp).toBe('cern-service');
      // Keycloak's client-credentials user is service-account-<client> (preferred_username; the
      // login is its sub, a UUID in plain Keycloak): accountType 'service'.
      expect(body.user.accountType).toBe('service');
    } finally {
      await identity.close();
    }
  });

  it('token exchange (Keycloak standard token exchange) gives a token for the API audience, on behalf of the user', async () => {
    const browser = new TestBrowser();
    await signIn(browser, app, 'jdoe');
    const exchanged = await getJson(browser, `${app.url}/exchange`);
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    expect([exchanged.body.aud].flat()).toContain(API_AUDIENCE);
    expect(exchanged.body).toMatchObject({
      iss: kc.issuer,
      azp: 'cern-app',
      cern_upn: 'jdoe',
      typ: 'Bearer',
    });
  });

  it('back-channel logout: Keycloak posts a logout token when an admin ends the user’s sessions, the app session is over', async () => {
    const browser = new TestBrowser();
    await signIn(browser, app, 'guest1');
    expect((await getJson(browser, `${app.url}/me`)).status).toBe(200);
    const { sid } = decodeJwtPayload((await storedTokens(app, browser)).idToken);

    const posted = app.backchannelPosts.length;
    await admin.logoutUser('guest1');

    // Keycloak itself posted a logout token per Keycloak session of the user (one is this
    // browser's `sid`), typ logout+jwt with the back-channel logout event, and the library accepted each.
    const posts = app.backchannelPosts.slice(posted);
    expect(posts.map((post) => post.sid)).toContain(sid);
    for (const post of posts) {
      expect(post).toMatchObject({
        status: 200,
        typ: 'logout+jwt',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      });
    }

    // Keycloak sends the logout token before the admin call returns.
    const me = await getJson(browser, `${app.url}/me`);
    expect(me.status).toBe(401);
    expect(app.logger.error).not.toHaveBeenCalled();
  });
});
