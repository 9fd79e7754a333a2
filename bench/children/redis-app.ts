/**
 * Child process of the `production-shape` suite: one Express instance with its sessions in
 * connect-redis and (for the `sso*` variants) the library's cache in `redisCache()`, on the Redis
 * and the emulator the parent started (passed by env). The parent signs the users in (through the
 * emulator, or `/bench/sign-in?login=` for the baseline), so several instances can share one session.
 *
 * - `baseline`:  express-session + connect-redis + a JSON route reading the session (side A).
 * - `sso`:       + `cernSso({ cache: redisCache(client) })` + `requireGroup('it-dep')` (side B).
 * - `sso-csc`:   `sso` whose cache client is a second client with RESP3 and node-redis
 *                server-assisted client-side caching (side C); sessions stay on the plain one.
 * - `sso-local`: `sso` with `redisCache(client, { localCache: true })` (side D).
 *
 * Env: BENCH_REDIS_SOCKET, BENCH_ISSUER, BENCH_AUTHZ_URL, BENCH_CLIENT_ID (`sso*`),
 * BENCH_PREFIX (keys of this app: instances with the same prefix share sessions and cache),
 * BENCH_GROUPS_TTL_MS (optional `groupsTtlMs`).
 */
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import { createClient } from 'redis';
import type { CernSso, RedisCacheOptions } from '../../src/index.js';
import { appSession, closeServer, listen, loadLibrary, required } from '../lib/app-child.js';
import { serveChild } from '../lib/child.js';

declare module 'express-session' {
  interface SessionData {
    benchUser?: { login: string };
  }
}

export type RedisVariant = 'baseline' | 'sso' | 'sso-csc' | 'sso-local';
const VARIANTS: readonly string[] = ['baseline', 'sso', 'sso-csc', 'sso-local'] satisfies RedisVariant[];

export interface RedisAppReady {
  /** The measured route, on 127.0.0.1. */
  url: string;
  /** The app's `baseUrl` (`http://localhost:<port>`), for the login and back-channel logout. */
  baseUrl: string;
}

export const ROUTE = '/api/data';
const GROUP = 'it-dep';
const LOGIN = 'jdoe';

/** A connected node-redis client on the parent's socket (with the `error` listener it needs). */
async function connect(extra: { RESP?: 3; clientSideCache?: { ttl: number; maxEntries: number } } = {}) {
  const client = createClient({ socket: { path: required('BENCH_REDIS_SOCKET'), tls: false }, ...extra });
  client.on('error', (error: Error) => {
    console.error(`redis client: ${error.message}`);
  });
  await client.connect();
  return client;
}

async function start(variant: RedisVariant): Promise<{ data: RedisAppReady; close: () => Promise<void> }> {
  const prefix = required('BENCH_PREFIX');
  const client = await connect();
  const clients: { destroy(): void }[] = [client];
  const app = express();
  app.use(appSession(new RedisStore({ client, prefix: `${prefix}sess:` })));
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  // localhost for the app, 127.0.0.1 for the emulator: their cookies stay apart in the login.
  const baseUrl = `http://localhost:${port}`;

  let sso: CernSso | undefined;
  let guard: RequestHandler[] = [];
  let handler: RequestHandler;
  if (variant === 'baseline') {
    // `?login=` signs in another user (the suite signs in many); only the bench parent calls it.
    app.get('/bench/sign-in', (req, res) => {
      const login = typeof req.query.login === 'string' ? req.query.login : LOGIN;
      req.session.benchUser = { login };
      res.redirect(302, ROUTE);
    });
    handler = (req, res) => {
      res.json({ login: req.session.benchUser?.login ?? null });
    };
  } else {
    const { cernSso, redisCache, requireGroup } = await loadLibrary();
    // Server-assisted client-side caching: Redis tracks the keys this client read and pushes an
    // invalidation when one changes; node-redis answers repeated GETs from its own memory.
    const cacheClient =
      variant === 'sso-csc'
        ? await connect({ RESP: 3, clientSideCache: { ttl: 0, maxEntries: 10_000 } })
        : client;
    if (cacheClient !== client) clients.push(cacheClient);
    // D: the library's own process-local layer with pub/sub invalidation.
    const cacheOptions: RedisCacheOptions = {
      prefix,
      ...(variant === 'sso-local' ? { localCache: true } : {}),
    };
    const groupsTtlMs = process.env.BENCH_GROUPS_TTL_MS;
    sso = cernSso({
      clientId: required('BENCH_CLIENT_ID'),
      clientSecret: 'bench-app-secret',
      baseUrl,
      issuer: required('BENCH_ISSUER'),
      authzApiUrl: required('BENCH_AUTHZ_URL'),
      cache: redisCache(cacheClient, cacheOptions),
      ...(groupsTtlMs === undefined ? {} : { groupsTtlMs: Number(groupsTtlMs) }),
    });
    app.use(sso);
    guard = [requireGroup(GROUP)];
    handler = (req, res) => {
      res.json({ login: req.sso.user?.login ?? null });
    };
  }
  app.get(ROUTE, ...guard, handler);

  return {
    data: { url: `http://127.0.0.1:${port}${ROUTE}`, baseUrl },
    close: async () => {
      await closeServer(server);
      await sso?.close();
      for (const each of clients) each.destroy();
    },
  };
}

const variant = process.argv[2] ?? '';
if (!VARIANTS.includes(variant)) throw new Error(`usage: redis-app.ts ${VARIANTS.join('|')}`);
serveChild(() => start(variant as RedisVariant));
