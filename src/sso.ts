import { Router, type Request } from 'express';
import { backchannelLogoutRoute } from './auth/backchannel-logout-route.js';
import { callbackRoute } from './auth/callback-route.js';
import { loginRoute } from './auth/login-route.js';
import { loginTransaction } from './auth/login-transaction.js';
import { createLogoutMarkers, logoutCheckFailurePolicy } from './auth/logout-markers.js';
import { logoutRoute } from './auth/logout-route.js';
import { issuerDiscovery } from './auth/issuer-registry.js';
import { createRuntime } from './auth/runtime.js';
import { SessionContext } from './auth/session-context.js';
import { applySessionLifetime } from './auth/session-lifetime.js';
import type { SignedIn } from './auth/session-data.js';
import { invalidationChannelOf } from './cache/invalidation-channel.js';
import { clockNow, resolveSsoConfig, type CernSsoOptions } from './config.js';
import { buildIdentityProvider } from './identity/identity-provider.js';
import type { IdentityProvider } from './identity/types.js';
import { sendError, toCernSsoError } from './respond.js';
import { eventPath } from './events.js';
import { userFromClaims } from './auth/user.js';

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
 * A configured route path as a literal Express route: the characters path-to-regexp reads as
 * syntax (`:name`, `*`, `(`, `{`, ...) are escaped, so `/a:b` is that path, not a parameter.
 */
const literalPath = (path: string): string => path.replace(/[{}()[\]+?!:*\\]/g, '\\$&');

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
    config.routes.backchannelLogout === false
      ? undefined
      : createLogoutMarkers(config.logoutCheckTimeoutMs, runtime.now, invalidationChannelOf(config.cache));
  const checkFailed = logoutCheckFailurePolicy(config.logoutCheckFailure, config.logger, runtime.now);

  // Matching as Express routes do by default: case-insensitive, optional trailing slash, exact
  // otherwise; HEAD answered by the GET route.
  const router = Router({ caseSensitive: false, strict: false }) as CernSso;

  // Every request: `req.sso`, signed in when the session points to a live sign-in. Synchronous
  // when the sign-in is held in process and its logout check is recent (the common case).
  router.use((req, res, next) => {
    const context = new SessionContext(req, runtime);
    req.sso = context;
    const session = (req as { session?: Request['session'] }).session;
    const pointer = session?.cernSso;
    if (!session || !pointer) {
      next();
      return;
    }
    // Signed in, then the lifetimes (timeouts, claims refresh) applied: they may sign it out.
    const admit = (signedIn: SignedIn): void => {
      context.signedIn = signedIn;
      const applied = applySessionLifetime(context);
      if (applied)
        void applied.then(() => {
          next();
        });
      else next();
    };
    const signIn = (signedIn: SignedIn | undefined): void => {
      if (!signedIn) {
        // The record is gone (expired, or a session from an older version): signed out.
        delete session.cernSso;
        next();
        return;
      }
      if (!markers) {
        admit(signedIn);
        return;
      }
      // A session ended by back-channel logout (on any instance) is signed out when next used.
      const checked = (loggedOut: boolean): void => {
        if (loggedOut) {
          delete session.cernSso;
          records.remove(req, signedIn.ref);
          const user = userFromClaims(signedIn.auth.claims);
          runtime.emit('session_expired', {
            login: user?.login,
            issuer: user?.issuer,
            path: eventPath(req),
            reason: 'backchannelLogout',
          });
          next();
        } else {
          admit(signedIn);
        }
      };
      // The markers unreadable (store down, or no answer in logoutCheckTimeoutMs): 503, or signed
      // in anyway with `logoutCheckFailure: 'allow'`.
      const uncheckable = (error: unknown): void => {
        const denied = checkFailed(error);
        if (denied) {
          sendError(req, res, denied);
          return;
        }
        admit(signedIn);
      };
      const loggedOut = markers.isLoggedOut(req, signedIn.auth);
      if (typeof loggedOut === 'boolean') checked(loggedOut);
      else loggedOut.then(checked, uncheckable);
    };
    // The session store failing to give the tokens is an outage (503), not a sign-out.
    const failed = (error: unknown): void => {
      const failure = toCernSsoError(error);
      config.logger.warn(
        { err: failure.cause ?? failure, code: failure.code },
        'could not load the sign-in of a session',
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
  });

  const { routes } = config;
  // One login transaction (cookie keys derived once) shared by the login and callback routes.
  const transaction = loginTransaction(runtime);
  if (routes.login !== false) router.get(literalPath(routes.login), loginRoute(runtime, transaction));
  if (routes.callback !== false)
    router.get(literalPath(routes.callback), callbackRoute(runtime, transaction));
  if (markers && routes.backchannelLogout !== false) {
    router.post(literalPath(routes.backchannelLogout), ...backchannelLogoutRoute(runtime, markers));
  }
  if (routes.logout !== false) {
    const logout = logoutRoute(runtime);
    router.route(literalPath(routes.logout)).get(logout).post(logout);
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
        records.clear();
        markers?.close();
        await identity.close();
        await config.cache.close?.();
      },
    },
  });
  return router;
}
