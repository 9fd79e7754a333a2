/**
 * Child process of the `require-group` suite: one Express app, in one of four variants.
 *
 * - `baseline`: express-session (MemoryStore) and a JSON route that reads the session.
 * - `sso`: the same plus `cernSso()` against the emulator (started here, in this process) and
 *   `requireGroup('it-dep')` on the route. `jdoe` logs in once through the emulator
 *   (autoLogin), which also warms the group cache.
 * - `baseline-fat`: `baseline` with the session data of `sso` (tokens + claims, passed in
 *   `BENCH_SESSION_PAYLOAD`) copied into its session: what the session size alone costs.
 * - `sso-no-guard`: `sso` without `requireGroup()`: what mounting `cernSso()` alone costs.
 *
 * Sends {@link SessionAppReady} once ready; stops when the parent says so.
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import type { CernSso, CernSsoOptions } from '../../src/index.js';
import { seedGroups, startCernSsoEmulator, type CernSsoEmulator } from '../../src/testing/index.js';
import { appSession, closeServer, listen, loadLibrary } from '../lib/app-child.js';
import { serveChild } from '../lib/child.js';
import { browserLogin } from '../lib/login.js';

declare module 'express-session' {
  interface SessionData {
    benchUser?: { login: string };
    benchPayload?: unknown;
  }
}

export type Variant = 'baseline' | 'baseline-fat' | 'sso-no-guard' | 'sso';
const VARIANTS: readonly string[] = ['baseline', 'baseline-fat', 'sso-no-guard', 'sso'] satisfies Variant[];

export interface SessionAppReady {
  /** The measured route, on 127.0.0.1. */
  url: string;
  /** `Cookie` header of the signed-in session. */
  cookie: string;
  /** Size of the session as the MemoryStore keeps it (JSON). */
  sessionBytes: number;
  /** `sso*` only: what the library keeps in `req.session.cernSso` (for `baseline-fat`). */
  libraryPayload?: unknown;
}

const ROUTE = '/api/data';
const GROUP = 'it-dep';
/** E-groups of the signed-in user besides the seed's (see the emulator's seed data). */
const EXTRA_GROUPS = 300;
const LOGIN = 'jdoe';

async function start(variant: Variant): Promise<{ data: SessionAppReady; close: () => Promise<void> }> {
  const store = new session.MemoryStore();
  const app = express();
  app.use(appSession(store));
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  // localhost for the app, 127.0.0.1 for the emulator: their cookies stay apart in the login.
  const baseUrl = `http://localhost:${port}`;

  let emulator: CernSsoEmulator | undefined;
  let sso: CernSso | undefined;
  let guard: RequestHandler[] = [];
  let handler: RequestHandler;
  const withSso = variant === 'sso' || variant === 'sso-no-guard';
  if (withSso) {
    const { cernSso, requireGroup } = await loadLibrary();
    // A realistic CERN user is in a few hundred e-groups (nested ones included), not four: the
    // guard's check against them runs on every request.
    const extraGroups = Array.from({ length: EXTRA_GROUPS }, (_, i) => ({
      id: `bench-group-${String(i).padStart(3, '0')}`,
      members: [LOGIN],
    }));
    emulator = await startCernSsoEmulator({ autoLogin: LOGIN, groups: [...seedGroups, ...extraGroups] });
    emulator.registerClient({
      clientId: 'bench-app',
      clientSecret: 'bench-app-secret',
      redirectUris: [`${baseUrl}/oidc/callback`],
      roles: { [LOGIN]: ['user'] },
    });
    sso = cernSso({
      clientId: 'bench-app',
      clientSecret: 'bench-app-secret',
      baseUrl,
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      // Experiments only (e.g. '{"routes":{"backchannelLogout":false}}'); the suite never sets it.
      ...(JSON.parse(process.env.BENCH_SSO_OPTIONS ?? '{}') as CernSsoOptions),
    });
    app.use(sso);
    if (variant === 'sso') guard = [requireGroup(GROUP)];
    handler = (req, res) => {
      res.json({ login: req.sso.user?.login ?? null });
    };
  } else {
    handler = (req, res) => {
      res.json({ login: req.session.benchUser?.login ?? null });
    };
  }
  // The same helper route in every variant, so the apps differ only by the library.
  const payload = process.env.BENCH_SESSION_PAYLOAD;
  app.get('/bench/sign-in', (req, res) => {
    req.session.benchUser = { login: LOGIN };
    if (variant === 'baseline-fat' && payload !== undefined) req.session.benchPayload = JSON.parse(payload);
    res.redirect(302, ROUTE);
  });
  app.get(ROUTE, ...guard, handler);
  // Sign in: through the emulator (which also fills the group cache), or by the helper route.
  const signIn = await browserLogin(
    withSso ? `${baseUrl}/login?returnTo=${encodeURIComponent(ROUTE)}` : `${baseUrl}/bench/sign-in`,
  );
  const sid = signIn.cookies.get('app.sid');
  if (signIn.status !== 200 || sid === undefined || !signIn.body.includes(LOGIN)) {
    throw new Error(`sign-in failed: ${signIn.status} at ${signIn.url}: ${signIn.body.slice(0, 200)}`);
  }
  const sessions = await new Promise<Record<string, unknown>>((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error as Error);
      else resolve(all ?? {});
    });
  });
  // The library keeps tokens and claims in a record of their own next to the session.
  const stored = (Object.values(sessions) as { cernSso?: unknown; cernSsoAuth?: unknown }[]).filter(
    (entry) => entry.cernSsoAuth === undefined,
  );
  if (stored.length !== 1) throw new Error(`expected one session, found ${stored.length}`);
  const sessionBytes = Buffer.byteLength(JSON.stringify(stored[0]));

  return {
    data: {
      url: `http://127.0.0.1:${port}${ROUTE}`,
      cookie: `app.sid=${sid}`,
      sessionBytes,
      ...(withSso ? { libraryPayload: stored[0]?.cernSso } : {}),
    },
    close: async () => {
      await closeServer(server);
      await sso?.close();
      await emulator?.close();
    },
  };
}

const variant = process.argv[2] ?? '';
if (!VARIANTS.includes(variant)) throw new Error(`usage: session-app.ts ${VARIANTS.join('|')}`);
serveChild(() => start(variant as Variant));
