import { createHash } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import express, { type ErrorRequestHandler, type Express } from 'express';
import session from 'express-session';
import type { createClient } from 'redis';
import {
  bearerAuth,
  cernSso,
  cernSsoErrorHandler,
  redisCache,
  requireAuth,
  requireGroup,
  type CernSso,
  type CernSsoOptions,
  type Clock,
} from 'express-cern-sso';

export interface InstanceAppOptions {
  /** A connected node-redis v5 client, shared by sessions and the library's cache. */
  redis: ReturnType<typeof createClient>;
  /** Name shown in responses, to see which instance answered. */
  instance: string;
  sso: CernSsoOptions;
  /** Session secrets: the first signs new cookies, all of them verify (rotation). */
  sessionSecrets: string[];
  /** Behind the TLS-terminating OKD router: `trust proxy` and secure cookies. */
  behindProxy?: boolean;
  /**
   * `aud` that access tokens of other services must carry for the `/api/service/...` routes.
   * Default: the client id (`sso.clientId`, else env `CERN_SSO_CLIENT_ID`); without one they are
   * not mounted.
   */
  apiAudience?: string;
  /** For tests only: the clock of `cernSso()` (see `test-clock.ts`). Default: real time. */
  clock?: Clock;
}

/** The admin e-group allowed to look up other people's memberships. */
const ADMIN_GROUP = 'it-dep-admins';

/** Session-store failures (Redis down): 503 with Retry-After instead of Express's 500. */
const sessionStoreUnavailable: ErrorRequestHandler = (error: unknown, req, res, next) => {
  const text = error instanceof Error ? `${error.constructor.name} ${error.message}` : '';
  // node-redis: ClientOfflineError, ClientClosedError, SocketClosedUnexpectedlyError, timeouts.
  if (res.headersSent || !/offline|closed|socket|connect|timeout|ECONN/i.test(text)) {
    next(error);
    return;
  }
  res.status(503).set('Retry-After', '5').set('Cache-Control', 'no-store');
  if (req.accepts(['json', 'html']) === 'html')
    res.type('html').send('<h1>Temporarily unavailable</h1><p>Please retry shortly.</p>');
  else
    res.json({
      error: 'temporarily_unavailable',
      error_description: 'The session store is unavailable, please retry shortly',
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
};

/**
 * One instance of a multi-instance app: sessions in Redis (connect-redis) and the library's cache
 * in the same Redis, so a session, its groups, the API token and back-channel logouts are shared;
 * each instance also keeps the cache entries it uses in process (`localCache`, see the README).
 */
export function createInstanceApp(options: InstanceAppOptions): { app: Express; sso: CernSso } {
  const app = express();
  if (options.behindProxy) app.set('trust proxy', 1);
  app.use(
    session({
      name: 'app.sid',
      store: new RedisStore({ client: options.redis, prefix: 'myapp:sess:' }),
      secret: options.sessionSecrets,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: options.behindProxy ?? false, maxAge: 8 * 3600_000 },
    }),
  );
  const sso = cernSso({
    ...options.sso,
    ...(options.clock ? { clock: options.clock } : {}),
    // localCache: group data served in process, kept coherent across instances by pub/sub.
    cache: redisCache(options.redis, { prefix: 'myapp:cache:', localCache: true }),
  });
  app.use(sso);

  app.get('/', (req, res) => {
    res.json({ instance: options.instance, user: req.sso.user?.login ?? null });
  });
  app.get('/api/whoami', requireAuth(), (req, res) => {
    res.json({ instance: options.instance, user: req.sso.user });
  });
  app.get('/api/groups', requireAuth(), async (req, res) => {
    res.json({ instance: options.instance, groups: await req.sso.groups() });
  });
  app.get('/api/admins', requireGroup('it-dep-admins'), (_req, res) => {
    res.json({ instance: options.instance, admin: true });
  });
  app.get('/api/token-digest', requireAuth(), async (req, res) => {
    // Shows that both instances use the same (refreshed) token, without revealing it.
    const token = await req.sso.getAccessToken();
    res.json({
      instance: options.instance,
      digest: createHash('sha256').update(token).digest('hex').slice(0, 16),
    });
  });
  // The identity provider for someone else's login (an admin screen): admins only, otherwise
  // anyone could probe anyone's memberships.
  app.get<'/api/is-member/:login', { login: string }>(
    '/api/is-member/:login',
    requireGroup(ADMIN_GROUP),
    async (req, res) => {
      res.json({
        instance: options.instance,
        member: await sso.identity.isMember(req.params.login, 'it-dep'),
      });
    },
  );
  // The same for other services (bearer access tokens, no session): it needs no session store,
  // so it keeps answering while Redis is down (the identity cache then misses: degraded).
  const apiAudience = options.apiAudience ?? options.sso.clientId ?? process.env.CERN_SSO_CLIENT_ID;
  if (apiAudience !== undefined) {
    app.get<'/api/service/is-member/:login', { login: string }>(
      '/api/service/is-member/:login',
      bearerAuth({ audience: apiAudience }),
      async (req, res) => {
        res.json({
          instance: options.instance,
          member: await sso.identity.isMember(req.params.login, 'it-dep'),
        });
      },
    );
  }
  app.use(sessionStoreUnavailable);
  // Library errors as clear pages/JSON; anything else an opaque 500, never a stack trace.
  app.use(cernSsoErrorHandler({ handleAll: true }));
  return { app, sso };
}
