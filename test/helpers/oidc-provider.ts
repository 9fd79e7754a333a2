/**
 * oidc-provider (panva, v9) as a second, standards-strict OpenID Provider for conformance tests.
 * It enforces what Keycloak enforces and more: PKCE, single-use codes, RFC 9207 `iss` in
 * authorization responses, exact redirect URIs, the registered client authentication method,
 * `id_token_hint` on RP-initiated logout. Its dev interactions accept any login (no password check).
 *
 * oidc-provider ships no type declarations: the few members used here are typed locally, and the
 * module is loaded with a non-literal specifier so the compiler does not look for its types.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The part of oidc-provider's Koa context the configuration hooks below use. */
interface OpContext {
  oidc: {
    client?: { clientId: string };
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    params?: Record<string, unknown>;
    provider: ReferenceProvider;
  };
  headers: Record<string, string | string[] | undefined>;
  type: string;
  body: unknown;
}

interface OpGrant {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}

/** The members of an oidc-provider `Provider` instance used by the tests. */
export interface ReferenceProvider {
  readonly issuer: string;
  callback(): NodeHandler;
  on(event: string, listener: (ctx: OpContext, ...args: unknown[]) => void): this;
  Grant: {
    new (init: { clientId: string; accountId: string }): OpGrant;
    find(id: string): Promise<OpGrant | undefined>;
  };
}

type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ReferenceProvider;

/** Claims the reference OP returns for a login; any login is accepted by the dev login form. */
export function cernClaimsFor(login: string): Record<string, unknown> {
  const [first = login, last = 'Tester'] = login.split('.');
  const capital = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);
  const claims: Record<string, unknown> = {
    sub: login,
    cern_upn: login,
    name: `${capital(first)} ${capital(last)}`,
    given_name: capital(first),
    family_name: capital(last),
    preferred_username: login,
    email: `${login}@cern.ch`,
    email_verified: true,
    cern_preferred_language: 'EN',
    cern_roles: ['default-role', 'admins'],
  };
  // Guests (login starting with "guest") have no CERN person id, like at CERN.
  if (!login.startsWith('guest')) claims.cern_person_id = 123456;
  return claims;
}

export interface ReferenceOpOptions {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Access token lifetime in seconds (`ttl.AccessToken`). Default 300. */
  accessTokenTtlSec?: number;
  /** Grant `openid profile email` without a consent screen (Keycloak-like). Default true. */
  skipConsent?: boolean;
  /** Delay before the token endpoint handles a request (to make concurrent requests overlap). */
  tokenEndpointDelayMs?: number;
}

/** A successful token endpoint request, as the OP saw it. */
export interface TokenRequest {
  grantType: string;
  /** `basic`: credentials in the Authorization header; `post`: in the form body. */
  clientAuth: 'basic' | 'post';
}

export interface ReferenceOp {
  /** `http://127.0.0.1:PORT` */
  issuer: string;
  provider: ReferenceProvider;
  /** Every successful token endpoint request, in order. */
  tokenRequests: TokenRequest[];
  close(): Promise<void>;
}

const SCOPE = 'openid profile email';

// Known, harmless start-up messages of a development configuration (Node 20 runtime notice,
// in-memory adapter, dev interactions). Everything else still reaches the console.
const QUIET = [/Unsupported runtime/, /development-only/, /devInteractions/];

async function quietly<T>(run: () => Promise<T> | T): Promise<T> {
  const { warn, info } = console;
  const filter =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]): void => {
      const text = typeof args[0] === 'string' ? args[0] : '';
      if (!QUIET.some((pattern) => pattern.test(text))) original(...args);
    };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    return await run();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

let providerClass: Promise<ProviderConstructor> | undefined;

function loadProvider(): Promise<ProviderConstructor> {
  const specifier = 'oidc-provider';
  providerClass ??= quietly(async () => {
    const module = (await import(specifier)) as { default: ProviderConstructor };
    return module.default;
  });
  return providerClass;
}

let signingKey: Record<string, unknown> | undefined;

function rsaSigningKey(): Record<string, unknown> {
  if (!signingKey) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'reference-op', use: 'sig', alg: 'RS256' };
  }
  return signingKey;
}

const page = (title: string, body: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

/** Starts oidc-provider on 127.0.0.1 (random port) with one confidential client. */
export async function startReferenceOp(options: ReferenceOpOptions): Promise<ReferenceOp> {
  const Provider = await loadProvider();
  let handler: NodeHandler = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => {
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const skipConsent = options.skipConsent ?? true;

  const configuration: Record<string, unknown> = {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
        token_endpoint_auth_method: options.tokenEndpointAuthMethod ?? 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [rsaSigningKey()] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: OpContext, form: string) => {
          ctx.type = 'html';
          ctx.body = page(
            'Sign out',
            `${form}<button form="op.logoutForm" name="logout" value="yes">Sign out</button>`,
          );
        },
        postLogoutSuccessSource: (ctx: OpContext) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p>Signed out.</p>');
        },
      },
    },
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub', 'cern_upn', 'cern_person_id', 'cern_roles', 'cern_preferred_language'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Profile and CERN claims in the ID token, as Keycloak does.
    conformIdTokenClaims: false,
    findAccount: (_ctx: OpContext, sub: string) => ({
      accountId: sub,
      claims: () => cernClaimsFor(sub),
    }),
    // Keycloak issues refresh tokens without `offline_access`.
    issueRefreshToken: (_ctx: OpContext, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    // Keycloak does not ask CERN users for consent: grant the requested OIDC scopes directly.
    loadExistingGrant: async (ctx: OpContext) => {
      const { client, session, result, provider } = ctx.oidc;
      if (!client || !session) return undefined;
      const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) return provider.Grant.find(grantId);
      if (!skipConsent || !session.accountId) return undefined;
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(SCOPE);
      await grant.save();
      return grant;
    },
    clientBasedCORS: () => false,
    renderError: (ctx: OpContext, out: { error?: string; error_description?: string }) => {
      ctx.type = 'html';
      const text = `${out.error ?? 'error'}: ${out.error_description ?? ''}`.replace(/[<>&"]/g, '');
      ctx.body = page('OP error', `<p id="op-error">${text}</p>`);
    },
    ttl: {
      AccessToken: options.accessTokenTtlSec ?? 300,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 86400,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  };

  const provider = await quietly(() => new Provider(issuer, configuration));
  const tokenRequests: TokenRequest[] = [];
  provider.on('grant.success', (ctx) => {
    const authorization = ctx.headers.authorization;
    tokenRequests.push({
      grantType: String(ctx.oidc.params?.grant_type),
      clientAuth: typeof authorization === 'string' && /^basic /i.test(authorization) ? 'basic' : 'post',
    });
  });
  const callback = provider.callback();
  const delayMs = options.tokenEndpointDelayMs ?? 0;
  handler = (req, res) => {
    if (delayMs > 0 && req.method === 'POST' && req.url?.startsWith('/token')) {
      setTimeout(() => {
        callback(req, res);
      }, delayMs);
    } else {
      callback(req, res);
    }
  };

  return {
    issuer,
    provider,
    tokenRequests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}
