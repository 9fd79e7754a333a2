import { Router, type Request, type RequestHandler } from 'express';
import { backchannelLogoutRoute } from './auth/backchannel-logout-route.js';
import { callbackRoute } from './auth/callback-route.js';
import { createOidcDiscovery } from './auth/discovery.js';
import { loginRoute } from './auth/login-route.js';
import { createLogoutMarkers } from './auth/logout-markers.js';
import { logoutRoute } from './auth/logout-route.js';
import { createRuntime } from './auth/runtime.js';
import { createSessionContext } from './auth/session-context.js';
import { resolveSsoConfig, type CernSsoOptions } from './config.js';
import { buildIdentityProvider } from './identity/identity-provider.js';
import type { IdentityProvider } from './identity/types.js';

/** The middleware returned by `cernSso()`: an Express Router with a few extra members. */
export interface CernSso extends Router {
  /** The identity provider (groups, users, search) sharing this instance's config and cache. */
  readonly identity: IdentityProvider;
  /** Resolves once discovery succeeded. Optional: the app never has to call it. */
  ready(): Promise<void>;
  /** Releases timers and connections (tests, graceful shutdown). */
  close(): Promise<void>;
}

/**
 * CERN single sign-on for an Express app: mounts the login, callback and logout routes and sets
 * `req.sso` on every request. Mount it after `express-session`.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option.
 */
export function cernSso(options: CernSsoOptions = {}): CernSso {
  const config = resolveSsoConfig(options);
  const discovery = createOidcDiscovery({
    issuer: config.issuer,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    tokenEndpointAuthMethod: config.tokenEndpointAuthMethod,
    httpTimeoutMs: config.httpTimeoutMs,
    clockToleranceSec: config.clockToleranceSec,
    logger: config.logger,
  });
  // One discovery and one cache for login and identity: no second discovery request.
  const identity = buildIdentityProvider(config, { discovery });
  const runtime = createRuntime(config, discovery, identity);
  const router = Router() as CernSso;

  const markers =
    config.routes.backchannelLogout === false ? undefined : createLogoutMarkers(config.cache, config.logger);

  const setContext: RequestHandler = (req, _res, next) => {
    req.sso = createSessionContext(req, runtime);
    const auth = (req as { session?: Request['session'] }).session?.cernSso;
    if (!markers || !auth) {
      next();
      return;
    }
    // A session ended by back-channel logout (on any instance) is signed out when next used.
    markers.isLoggedOut(auth).then(
      (loggedOut) => {
        if (loggedOut) delete req.session.cernSso;
        next();
      },
      () => {
        next();
      },
    );
  };
  router.use(setContext);

  const { routes } = config;
  if (routes.login !== false) router.get(routes.login, loginRoute(runtime));
  if (routes.callback !== false) router.get(routes.callback, callbackRoute(runtime));
  if (routes.backchannelLogout !== false && markers) {
    router.post(routes.backchannelLogout, ...backchannelLogoutRoute(runtime, markers));
  }
  if (routes.logout !== false) {
    const logout = logoutRoute(runtime);
    router.get(routes.logout, logout);
    router.post(routes.logout, logout);
  }

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
        await identity.close();
      },
    },
  });
  return router;
}
