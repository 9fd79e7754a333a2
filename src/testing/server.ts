import { createServer, type Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { AUTHZ_API_AUDIENCE, apiAccessRouter } from './api-access.js';
import { authorizeRouter } from './authorize.js';
import { createAuthzApiRouter } from './authz/index.js';
import { findUser, type EmulatorContext, type EmulatorSettings } from './context.js';
import { discoveryRouter } from './discovery.js';
import { endSessionRouter, endSessions } from './end-session.js';
import { createTraffic, type Traffic } from './faults.js';
import { introspectionRouter } from './introspection.js';
import { KeyStore } from './keys.js';
import { loginToApp } from './app-login.js';
import { LoginTickets } from './login-tickets.js';
import { demoClient, seedGroups, seedUsers } from './seed.js';
import { Store } from './store.js';
import { tokenRouter } from './token-endpoint.js';
import { identityClaims, signAccessToken, verifyAccessToken } from './tokens.js';
import type { CernSsoEmulator, EmulatorClient, EmulatorOptions, IssueAccessTokenOptions } from './types.js';
import { userinfoRouter } from './userinfo.js';

/** `localhost`, 127.0.0.0/8 and ::1: the emulator refuses to listen anywhere else. */
function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
  return false;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0)
    throw new TypeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function validateClient(client: EmulatorClient): void {
  if (typeof client.clientId !== 'string' || client.clientId === '')
    throw new TypeError('client.clientId is required');
  if (typeof client.clientSecret !== 'string' || client.clientSecret === '') {
    throw new TypeError(`client ${client.clientId}: clientSecret is required`);
  }
  if (!Array.isArray(client.redirectUris))
    throw new TypeError(`client ${client.clientId}: redirectUris must be an array`);
}

/** The express app: request log and faults first, then the realm, then the AuthZ API. */
function buildApp(ctx: EmulatorContext, traffic: Traffic): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(traffic.middleware);
  app.use(discoveryRouter(ctx));
  app.use(authorizeRouter(ctx));
  app.use(tokenRouter(ctx));
  app.use(apiAccessRouter(ctx));
  app.use(userinfoRouter(ctx));
  app.use(introspectionRouter(ctx));
  app.use(endSessionRouter(ctx));
  app.use(
    '/api/v1.0',
    createAuthzApiRouter({
      users: () => ctx.users,
      groups: () => ctx.groups,
      // The AuthZ router checks the audience itself (to explain a wrong one).
      verifyApiToken: async (token) => {
        const claims = await verifyAccessToken(ctx, token);
        if (!claims) throw new Error('invalid or expired token');
        return claims;
      },
    }),
  );
  app.get('/', (_req, res) => {
    res.json({
      name: 'CERN SSO emulator (express-cern-sso/testing)',
      issuer: ctx.issuer,
      discovery: `${ctx.issuer}/.well-known/openid-configuration`,
      authzApi: `${ctx.issuer.slice(0, -ctx.realmPath.length)}/api/v1.0`,
    });
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', error_description: 'Unknown path' });
  });
  const onError: ErrorRequestHandler = (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    // Body parser errors (malformed or too large forms) carry a 4xx status.
    const status = (error as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: 'invalid_request', error_description: 'Malformed request' });
      return;
    }
    console.error('[cern-sso-emulator] internal error:', error);
    res.status(500).json({ error: 'server_error', error_description: 'Emulator internal error' });
  };
  app.use(onError);
  return app;
}

/** The HTTP listener: can be stopped and restarted on the same port. */
class Listener {
  private server: Server | undefined;
  private closed = false;

  constructor(
    private readonly app: Express,
    private readonly host: string,
    public port: number,
  ) {}

  async start(): Promise<void> {
    if (this.closed) throw new Error('the emulator is closed');
    if (this.server) return;
    const server = createServer(this.app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection (also hung and keep-alive ones). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }
}

/**
 * Starts a local emulator of CERN's Keycloak realm (OIDC code flow with PKCE, refresh, client
 * credentials, token exchange, introspection, RP-initiated and back-channel logout, CERN's
 * `api-access` token endpoint) and of the CERN Authorization Service API, on a loopback port.
 *
 * ```ts
 * const sso = await startCernSsoEmulator({ autoLogin: 'jdoe' });
 * sso.registerClient({ ...demoClient, redirectUris: [`${appUrl}/oidc/callback`] });
 * // cernSso({ issuer: sso.issuer, authzApiUrl: sso.authzApiUrl, clientId: 'demo-app', ... })
 * await sso.close();
 * ```
 */
export async function startCernSsoEmulator(options: EmulatorOptions = {}): Promise<CernSsoEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new Error(
      `startCernSsoEmulator: host must be a loopback address (127.0.0.1, ::1, localhost), got "${host}"`,
    );
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`startCernSsoEmulator: port must be an integer 0-65535, got ${port}`);
  }
  const realm = options.realm ?? 'cern';
  if (!/^[A-Za-z0-9._-]+$/.test(realm)) throw new TypeError(`startCernSsoEmulator: invalid realm "${realm}"`);
  const settings: EmulatorSettings = {
    accessTokenTtlSec: positiveInt('accessTokenTtlSec', options.accessTokenTtlSec, 300),
    refreshTokenTtlSec: positiveInt('refreshTokenTtlSec', options.refreshTokenTtlSec, 1800),
    apiTokenTtlSec: positiveInt('apiTokenTtlSec', options.apiTokenTtlSec, 1200),
    revokeRefreshTokens: options.revokeRefreshTokens ?? true,
    autoLogin: options.autoLogin ?? false,
    acrLevels: options.acrLevels === undefined ? undefined : new Map(Object.entries(options.acrLevels)),
  };
  const clients = (options.clients ?? [demoClient]).map((client) => structuredClone(client));
  clients.forEach(validateClient);

  const ctx: EmulatorContext = {
    realm,
    realmPath: `/auth/realms/${realm}`,
    issuer: '',
    // Copies: tests may edit the emulator's data without touching the shared seed.
    users: structuredClone([...(options.users ?? seedUsers)]),
    groups: structuredClone([...(options.groups ?? seedGroups)]),
    clients: new Map(clients.map((client) => [client.clientId, client])),
    settings,
    keys: await KeyStore.create(),
    store: new Store(() => settings.refreshTokenTtlSec * 1000),
    loginTickets: new LoginTickets(),
  };
  const traffic = createTraffic();
  const listener = new Listener(buildApp(ctx, traffic), host, port);
  await listener.start();
  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  const url = `http://${urlHost}:${listener.port}`;
  ctx.issuer = `${url}${ctx.realmPath}`;

  return {
    url,
    issuer: ctx.issuer,
    authzApiUrl: url,
    users: ctx.users,
    groups: ctx.groups,
    clients: ctx.clients,
    requests: traffic.requests,
    faults: traffic.faults,

    registerClient(client: EmulatorClient): void {
      validateClient(client);
      ctx.clients.set(client.clientId, client);
    },

    setRoles(clientId: string, login: string, roles: readonly string[]): void {
      const client = ctx.clients.get(clientId);
      if (!client) throw new Error(`setRoles: unknown client "${clientId}"`);
      // defineProperty: a login such as `__proto__` is an entry like any other.
      const table = client.roles ?? {};
      Object.defineProperty(table, login, {
        value: [...roles],
        enumerable: true,
        writable: true,
        configurable: true,
      });
      client.roles = table;
    },

    setAutoLogin(login: string | false): void {
      settings.autoLogin = login;
    },

    login: (loginOptions) => loginToApp(ctx, loginOptions),

    sessions(login?: string) {
      return ctx.store.listSessions(login).map((session) => ({
        sid: session.sid,
        login: session.login,
        clients: [...session.clients],
        authTime: session.authTime,
      }));
    },

    suspend: () => listener.stop(),
    resume: () => listener.start(),
    close: () => listener.close(),

    async issueAccessToken(login: string, opts: IssueAccessTokenOptions = {}): Promise<string> {
      const user = findUser(ctx, login);
      if (!user) throw new Error(`issueAccessToken: unknown user "${login}"`);
      const clientId = opts.clientId ?? demoClient.clientId;
      const client = ctx.clients.get(clientId);
      const audience =
        opts.audience === undefined
          ? (client?.accessTokenAudience ?? [clientId])
          : typeof opts.audience === 'string'
            ? [opts.audience]
            : opts.audience;
      return signAccessToken(ctx, {
        iss: ctx.issuer,
        identity: identityClaims(ctx, user, clientId, client),
        azp: clientId,
        audience,
        scope: opts.scope ?? 'openid profile email',
        ttlSec: opts.expiresInSec ?? settings.accessTokenTtlSec,
        notBeforeSec: opts.notBeforeSec,
        extraClaims: opts.claims,
        kid: opts.kid,
        header: opts.header,
      });
    },

    rotateSigningKey: () => ctx.keys.rotate(),

    removeSigningKey(kid: string): void {
      ctx.keys.remove(kid);
    },

    async verifyApiToken(token: string): Promise<Record<string, unknown>> {
      const claims = await verifyAccessToken(ctx, token);
      if (!claims) throw new Error('invalid or expired token');
      const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
      if (!aud.includes(AUTHZ_API_AUDIENCE)) throw new Error(`token audience is not ${AUTHZ_API_AUDIENCE}`);
      return claims;
    },

    endSsoSessions: (login: string) =>
      endSessions(
        ctx,
        ctx.store.listSessions(login).map((session) => session.sid),
      ),
  };
}
