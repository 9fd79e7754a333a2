import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { backchannelLogoutRoute } from './auth/backchannel-logout-route.js';
import { callbackRoute } from './auth/callback-route.js';
import { loginRoute } from './auth/login-route.js';
import { loginTransaction } from './auth/login-transaction.js';
import { createLogoutMarkers, logoutCheckFailurePolicy, type LogoutMarkers } from './auth/logout-markers.js';
import { logoutRoute } from './auth/logout-route.js';
import { issuerDiscovery } from './auth/issuer-registry.js';
import { createRuntime, type AuthRuntime } from './auth/runtime.js';
import { SessionContext } from './auth/session-context.js';
import type { SignedIn } from './auth/session-data.js';
import { clockNow, resolveSsoConfig, type CernSsoOptions } from './config.js';
import { buildIdentityProvider } from './identity/identity-provider.js';
import type { IdentityProvider } from './identity/types.js';
import { describeError } from './logger.js';
import { sendError, toCernSsoError } from './respond.js';

/** The middleware returned by `cernSso()`: an Express Router with a few extra members. */
export interface CernSso extends Router {
  /** The identity provider (groups, users, search) sharing this instance's config and cache. */
  readonly identity: IdentityProvider;
  /** Resolves once discovery succeeded. Optional: the app never has to call it. */
  ready(): Promise<void>;
  /** Releases timers and connections (tests, graceful shutdown). */
  close(): Promise<void>;
}

type RouteTable = Map<string, RequestHandler[]>;

/** Router-compatible matching (case-insensitive, optional trailing slash) in one map lookup. */
const routeKey = (method: string, path: string): string =>
  `${method} ${path.length > 1 && path.endsWith('/') ? path.slice(0, -1).toLowerCase() : path.toLowerCase()}`;

function routeTable(runtime: AuthRuntime, markers: LogoutMarkers | undefined): RouteTable {
  const { routes } = runtime.config;
  const table: RouteTable = new Map();
  const add = (method: string, path: string | false, handlers: RequestHandler[]) => {
    if (path === false) return;
    table.set(routeKey(method, path), handlers);
    // Express answers HEAD with the GET route.
    if (method === 'GET') table.set(routeKey('HEAD', path), handlers);
  };
  // One login transaction (cookie keys derived once) shared by the login and callback routes.
  const transaction = loginTransaction(runtime);
  add('GET', routes.login, [loginRoute(runtime, transaction)]);
  add('GET', routes.callback, [callbackRoute(runtime, transaction)]);
  if (markers) add('POST', routes.backchannelLogout, backchannelLogoutRoute(runtime, markers));
  const logout = logoutRoute(runtime);
  add('GET', routes.logout, [logout]);
  add('POST', routes.logout, [logout]);
  return table;
}

/** Runs `handlers` in order, Express style; errors and rejections go to `done`. */
function runHandlers(handlers: RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  let index = 0;
  const step = (error?: unknown): void => {
    const handler = handlers[index++];
    if (error !== undefined || handler === undefined) {
      done(error);
      return;
    }
    try {
      const result: unknown = handler(req, res, step);
      if (result instanceof Promise) result.catch(step);
    } catch (thrown) {
      step(thrown);
    }
  };
  step();
}

/**
 * CERN single sign-on for an Express app: mounts the login, callback and logout routes and sets
 * `req.sso` on every request. Mount it after `express-session`.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option.
 */
export function cernSso(options: CernSsoOptions = {}): CernSso {
  const config = resolveSsoConfig(options);
  // The issuer's discovery is shared with any bearerAuth() or identity provider of this issuer.
  const discovery = issuerDiscovery({
    issuer: config.issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    tokenEndpointAuthMethod: config.tokenEndpointAuthMethod,
    httpTimeoutMs: config.httpTimeoutMs,
    clockToleranceSec: config.clockToleranceSec,
    logger: config.logger,
    now: clockNow(config.clock),
  });
  // One discovery and one cache for login and identity: no second discovery request.
  const identity = buildIdentityProvider(config, { discovery });
  const runtime = createRuntime(config, discovery, identity);
  const { records } = runtime;
  const markers =
    config.routes.backchannelLogout === false ? undefined : createLogoutMarkers(config.logoutCheckTimeoutMs);
  const checkFailed = logoutCheckFailurePolicy(config.logoutCheckFailure, config.logger);
  const routes = routeTable(runtime, markers);

  // One middleware for context and routes: it runs on every request of the app, so it does a
  // map lookup instead of walking a router stack.
  const handle: RequestHandler = (req, res, next) => {
    const context = new SessionContext(req, runtime);
    req.sso = context;
    const route = (): void => {
      const handlers = routes.get(routeKey(req.method, req.path));
      if (handlers) runHandlers(handlers, req, res, next);
      else next();
    };
    const session = (req as { session?: Request['session'] }).session;
    const pointer = session?.cernSso;
    if (!session || !pointer) {
      route();
      return;
    }
    const signIn = (signedIn: SignedIn | undefined): void => {
      if (!signedIn) {
        // The record is gone (expired, or a session from an older version): signed out.
        delete session.cernSso;
        route();
        return;
      }
      if (!markers) {
        context.signedIn = signedIn;
        route();
        return;
      }
      // A session ended by back-channel logout (on any instance) is signed out when next used.
      const checked = (loggedOut: boolean): void => {
        if (loggedOut) {
          delete session.cernSso;
          records.remove(req, signedIn.ref);
        } else {
          context.signedIn = signedIn;
        }
        route();
      };
      // The markers unreadable (store down, or no answer in logoutCheckTimeoutMs): 503, or signed
      // in anyway with `logoutCheckFailure: 'allow'`.
      const uncheckable = (error: unknown): void => {
        const denied = checkFailed(error);
        if (denied) {
          sendError(req, res, denied);
          return;
        }
        context.signedIn = signedIn;
        route();
      };
      // Synchronous when this sign-in was checked within the last second (LOGOUT_RECHECK_MS).
      const loggedOut = markers.isLoggedOut(req, signedIn.auth);
      if (typeof loggedOut === 'boolean') checked(loggedOut);
      else loggedOut.then(checked, uncheckable);
    };
    // The session store failing to give the tokens is an outage (503), not a sign-out.
    const failed = (error: unknown): void => {
      const failure = toCernSsoError(error);
      config.logger.warn(
        `could not load the sign-in of a session: ${describeError(failure.cause ?? failure)}`,
      );
      sendError(req, res, failure);
    };
    let loaded: ReturnType<typeof records.load>;
    try {
      loaded = typeof pointer.ref === 'string' ? records.load(req, pointer.ref) : undefined;
    } catch (error) {
      failed(error);
      return;
    }
    if (loaded instanceof Promise) loaded.then(signIn, failed);
    else signIn(loaded);
  };

  const router = Router() as CernSso;
  router.use(handle);

  Object.defineProperties(router, {
    identity: { value: identity, enumerable: true },
    ready: {
      value: async () => {
        await discovery.get();
      },
    },
    close: {
      value: async () => {
        runtime.refreshes.clear();
        records.clear();
        await identity.close();
      },
    },
  });
  return router;
}
