/**
 * What `flows.test.ts` needs around real Keycloak: an app with `cernSso()` for one of the realm's
 * clients (its own clients and users, so the conformance tests running beside it never end or
 * re-register what these tests use), registration of several apps' callbacks on one client, a
 * sign-in through Keycloak's login form with the cookie-keeping test browser, and a throwaway
 * copy of the realm whose frontend URL is a proxy (Keycloak down and back).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { expect } from 'vitest';
import {
  CernSsoError,
  cernSso,
  requireAuth,
  requireRole,
  type CernSso,
  type CernSsoOptions,
} from 'express-cern-sso';
import { recordingLogger, type RecordingLogger } from '../helpers/app.js';
import type { BrowserResponse, TestBrowser } from '../helpers/browser.js';
import type { KeycloakInfo } from './keycloak.js';
import { KeycloakAdmin } from './admin.js';

export const APP_HOST = 'localhost';
export const SESSION_COOKIE = 'app.sid';
export const secretOf = (clientId: string): string => `${clientId}-secret-0123456789`;

export interface FlowApp {
  url: string;
  port: number;
  store: session.MemoryStore;
  logger: RecordingLogger;
  sso: CernSso;
  close(): Promise<void>;
}

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve(server);
    });
  });
}

/** Answers `CernSsoError`s as JSON when asked for JSON, else lets the library's page through. */
const errorAsJson: ErrorRequestHandler = (error, req, res, next) => {
  if (!(error instanceof CernSsoError) || req.accepts(['html', 'json']) !== 'json') {
    next(error);
    return;
  }
  res.status(error.status).set(error.headers).json({ error: error.code, message: error.message });
};

/** An app with `cernSso()` (not yet registered at Keycloak: see `registerCallbacks`). */
export async function startFlowApp(options: {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** More cernSso() options (a clock, lifetimes, onLogin...). */
  sso?: CernSsoOptions;
}): Promise<FlowApp> {
  const app = express();
  const store = new session.MemoryStore();
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: 'keycloak-flows-session-secret',
      resave: false,
      saveUninitialized: false,
      store,
      cookie: { sameSite: 'lax', httpOnly: true },
    }),
  );
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  const url = `http://${APP_HOST}:${port}`;
  const logger = recordingLogger();
  const sso = cernSso({
    clientId: options.clientId,
    clientSecret: options.clientSecret ?? secretOf(options.clientId),
    baseUrl: url,
    issuer: options.issuer,
    logger,
    ...options.sso,
  });
  app.use(sso);
  app.get('/', (_req, res) => {
    res.type('text').send('home');
  });
  app.get('/x', (req, res) => {
    res.json({ user: req.sso.user ?? null });
  });
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: req.sso.user, claims: req.sso.claims });
  });
  app.get('/recent', requireAuth({ maxAgeSec: 60 }), (req, res) => {
    res.json({ user: req.sso.user, claims: req.sso.claims });
  });
  app.get('/admin', requireRole('admin'), (req, res) => {
    res.json({ user: req.sso.user });
  });
  app.use(errorAsJson);
  return {
    url,
    port,
    store,
    logger,
    sso,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sso.close();
    },
  };
}

/** The admin REST API of any realm (the shared `KeycloakAdmin` speaks to `cern` only). */
export class RealmAdmin {
  private readonly admin: KeycloakAdmin;

  constructor(
    keycloak: KeycloakInfo,
    readonly realm: string,
  ) {
    this.admin = new KeycloakAdmin(keycloak);
  }

  /** One call under `/admin/realms` (`path` starts after it, e.g. `/cern/clients`). */
  call(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.admin.realmsCall(method, path, body);
  }

  /** Registers the callbacks (and post-logout URIs) of every app on `clientId`, all at once. */
  async registerCallbacks(clientId: string, apps: readonly { url: string }[]): Promise<void> {
    const [client] = (await this.call(
      'GET',
      `/${this.realm}/clients?clientId=${encodeURIComponent(clientId)}`,
    )) as { id: string; attributes?: Record<string, string> }[];
    if (!client) throw new Error(`no client ${clientId} in realm ${this.realm}`);
    await this.call('PUT', `/${this.realm}/clients/${client.id}`, {
      ...client,
      redirectUris: apps.map((app) => `${app.url}/oidc/callback`),
      attributes: {
        ...client.attributes,
        'post.logout.redirect.uris': apps.map((app) => `${app.url}/`).join('##'),
        'backchannel.logout.url': '',
      },
    });
  }

  async logoutUser(username: string): Promise<void> {
    const [user] = (await this.call(
      'GET',
      `/${this.realm}/users?exact=true&username=${encodeURIComponent(username)}`,
    )) as { id: string }[];
    if (!user) throw new Error(`no user ${username} in realm ${this.realm}`);
    await this.call('POST', `/${this.realm}/users/${user.id}/logout`);
  }

  /**
   * Creates this realm as a copy of `realm-cern.json` whose frontend URL is `frontendUrl`: its
   * issuer and every URL it publishes then point there (e.g. at a proxy in front of Keycloak).
   */
  async createCopyOfCern(frontendUrl: string): Promise<string> {
    const file = new URL('./realm-cern.json', import.meta.url);
    const realm = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    await this.call('POST', '', {
      ...realm,
      realm: this.realm,
      attributes: { ...(realm.attributes as object | undefined), frontendUrl },
    });
    return `${frontendUrl}/realms/${this.realm}`;
  }

  async deleteRealm(): Promise<void> {
    await this.call('DELETE', `/${this.realm}`);
  }
}

export function isKeycloakLoginPage(page: BrowserResponse): boolean {
  return page.status === 200 && page.body.includes('id="kc-form-login"');
}

/** The `action` of Keycloak's login form on `page`. */
export function loginFormAction(page: BrowserResponse): string {
  expect(isKeycloakLoginPage(page), `Keycloak's login page, got ${page.status}`).toBe(true);
  const form = /<form[^>]*id="kc-form-login"[^>]*>/.exec(page.body)?.[0] ?? '';
  return /action="([^"]*)"/.exec(form)?.[1]?.replace(/&amp;/g, '&') ?? '';
}

/** Posts username and password to Keycloak's login form; resolves to Keycloak's redirect. */
export async function submitLogin(browser: TestBrowser, action: string, username: string): Promise<URL> {
  const posted = await browser.request(action, {
    method: 'POST',
    body: new URLSearchParams({ username, password: `${username}-password`, credentialId: '' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const body = await posted.text();
  const location = posted.headers.get('location');
  if (posted.status !== 302 || !location) throw new Error(`login form answered ${posted.status}: ${body}`);
  return new URL(location);
}

/** `/login` on the app: resolves to the authorization request it redirects to. */
export async function startLogin(browser: TestBrowser, app: { url: string }, query = ''): Promise<URL> {
  const start = await browser.request(`${app.url}/login${query}`);
  await start.arrayBuffer();
  expect(start.status, `/login${query}`).toBe(302);
  return new URL(start.headers.get('location') ?? '');
}

/** `/login`, Keycloak's login form, up to (not including) the callback. */
export async function loginUpToCallback(
  browser: TestBrowser,
  app: { url: string },
  username: string,
): Promise<URL> {
  const authorizeUrl = await startLogin(browser, app, '?returnTo=%2Fme');
  const page = await browser.navigate(authorizeUrl.href);
  return submitLogin(browser, loginFormAction(page), username);
}

function storeGet(store: session.MemoryStore, id: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    store.get(id, (error: unknown, data?: unknown) => {
      if (error) reject(error instanceof Error ? error : new Error('session store failure'));
      else resolve((data ?? undefined) as Record<string, unknown> | undefined);
    });
  });
}

/** The access token the library keeps for the browser's signed-in session. */
export async function storedAccessToken(app: FlowApp, browser: TestBrowser): Promise<string> {
  const cookie = decodeURIComponent(browser.cookie(APP_HOST, SESSION_COOKIE) ?? '');
  expect(cookie.startsWith('s:'), 'a signed session cookie').toBe(true);
  const data = await storeGet(app.store, cookie.slice(2, cookie.lastIndexOf('.')));
  const ref = (data?.cernSso as { ref?: string } | undefined)?.ref ?? '';
  const record = await storeGet(app.store, ref);
  const token = (record?.cernSsoAuth as { tokens?: { accessToken?: string } } | undefined)?.tokens
    ?.accessToken;
  if (!token) throw new Error('no sign-in record for this browser');
  return token;
}

/** Number of sessions in the app's store (sessions and sign-in records). */
export function storeSize(store: session.MemoryStore): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((error: unknown, length?: number) => {
      if (error) reject(error instanceof Error ? error : new Error('session store failure'));
      else resolve(length ?? 0);
    });
  });
}
