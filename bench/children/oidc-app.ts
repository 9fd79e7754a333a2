/**
 * Child process of the `vs-express-openid-connect` suite: one Express app signing in through the
 * shared OP (the `sso-op` child), in one of three variants, each in its documented default
 * configuration.
 *
 * - `cern-sso`: express-session (MemoryStore) + `cernSso()` (this library, compiled `dist/`);
 *   the routes behind `requireAuth()`.
 * - `eoc`: express-openid-connect's `auth({ authRequired: false, ... })` with its default
 *   session, an encrypted cookie; the routes behind `requiresAuth()`.
 * - `eoc-store`: `eoc` with its sessions in a server-side store (express-session's MemoryStore
 *   through its `session.store` option): the cookie only carries the session id.
 *
 * Routes: `/login` (each library's own), `GET /me` (the measured signed-in route) and `GET /` (the
 * page a login ends on; express-openid-connect's `/login` returns to `baseURL`), both answering
 * `{"login":"<user>"}` for the signed-in user. Before it reports ready, the child signs in once
 * through the OP and sends that session's `Cookie` header.
 * Env: `BENCH_ISSUER`, `BENCH_AUTHZ_API_URL`, `BENCH_CLIENT_ID`, `BENCH_CLIENT_SECRET`.
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { closeServer, listen, loadLibrary, required } from '../lib/app-child.js';
import { serveChild } from '../lib/child.js';
import { browserLogin } from '../lib/login.js';

export type OidcAppVariant = 'cern-sso' | 'eoc' | 'eoc-store';
const VARIANTS: readonly string[] = ['cern-sso', 'eoc', 'eoc-store'] satisfies OidcAppVariant[];

export interface OidcAppReady {
  /** The measured signed-in route (`/me`), on 127.0.0.1. */
  url: string;
  /** `Cookie` header of the session signed in through the OP. */
  cookie: string;
  /** Where a login starts (`/login` on `localhost`, so app and OP cookies stay apart). */
  loginUrl: string;
  /** Bytes of the `Cookie` header the browser sends on every request once signed in. */
  cookieBytes: number;
  /** Names of the cookies in it. */
  cookieNames: string[];
}

async function start(variant: OidcAppVariant): Promise<{ data: OidcAppReady; close: () => Promise<void> }> {
  const issuer = required('BENCH_ISSUER');
  const clientId = required('BENCH_CLIENT_ID');
  const clientSecret = required('BENCH_CLIENT_SECRET');
  const app = express();
  // The port is needed for baseUrl before the routes exist: listen first, mount on a sub-router.
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}`;
  const router = express.Router();
  let close: () => Promise<void> = () => Promise.resolve();
  let guard: RequestHandler;
  let handler: RequestHandler;

  if (variant === 'cern-sso') {
    const { cernSso, requireAuth } = await loadLibrary();
    // The README's quick start (without `secure`: the benchmark runs over plain http).
    router.use(
      session({
        secret: 'bench-session-secret',
        resave: false,
        saveUninitialized: false,
        cookie: { sameSite: 'lax' },
      }),
    );
    const sso = cernSso({
      clientId,
      clientSecret,
      baseUrl,
      issuer,
      authzApiUrl: required('BENCH_AUTHZ_API_URL'),
    });
    router.use(sso);
    close = () => sso.close();
    guard = requireAuth();
    handler = (req, res) => {
      res.json({ login: req.sso.user?.login ?? null });
    };
  } else {
    // CommonJS: its exports are the default export's properties. Loaded only by its own variants.
    const { auth, requiresAuth } = (await import('express-openid-connect')).default;
    router.use(
      auth({
        authRequired: false,
        issuerBaseURL: issuer,
        baseURL: baseUrl,
        clientID: clientId,
        clientSecret,
        secret: 'bench-eoc-cookie-secret-0123456789abcdef',
        // Its default is the implicit `id_token` + form_post; the CERN SSO (and the emulator)
        // allow the code flow only, which is also the flow of this library (PKCE, client secret).
        authorizationParams: { response_type: 'code', scope: 'openid profile email' },
        ...(variant === 'eoc-store' ? { session: { store: new session.MemoryStore() as never } } : {}),
      }),
    );
    guard = requiresAuth();
    handler = (req, res) => {
      res.json({ login: (req.oidc.user?.sub as string | undefined) ?? null });
    };
  }
  router.get('/me', guard, handler);
  router.get('/', guard, handler);
  app.use(router);

  // Sign in once through the OP, as a browser would.
  const signIn = await browserLogin(`${baseUrl}/login`);
  if (signIn.status !== 200 || signIn.body !== '{"login":"jdoe"}') {
    throw new Error(`sign-in failed: ${signIn.status} at ${signIn.url}: ${signIn.body.slice(0, 200)}`);
  }
  // Cookies the login cleared (its transaction cookies) come back empty: a browser drops them.
  const kept = [...signIn.cookies].filter(([, value]) => value !== '');
  const cookie = kept.map(([name, value]) => `${name}=${value}`).join('; ');
  return {
    data: {
      url: `http://127.0.0.1:${port}/me`,
      cookie,
      loginUrl: `${baseUrl}/login`,
      cookieBytes: Buffer.byteLength(cookie),
      cookieNames: kept.map(([name]) => name),
    },
    close: async () => {
      await closeServer(server);
      await close();
    },
  };
}

const variant = process.argv[2] ?? '';
if (!VARIANTS.includes(variant)) throw new Error(`usage: oidc-app.ts ${VARIANTS.join('|')}`);
serveChild(() => start(variant as OidcAppVariant), 420_000);
