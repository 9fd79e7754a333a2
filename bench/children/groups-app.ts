/**
 * Child process of the `cold-groups` suite: one app instance in the production shape. Sessions
 * on connect-redis and the library's cache on `redisCache()`, one node-redis client for both,
 * against the private redis-server of `BENCH_REDIS_SOCKET` and the emulator of `BENCH_ISSUER`.
 * Two of these share one Redis, so a session signed in on one works on the other.
 *
 * Routes: `GET /api/me` (`requireAuth()`), `GET /api/guarded` (`requireGroup('bench-staff')`),
 * both answering `{ login }`; `GET /bench/upstream` the HTTP requests this instance made to the
 * emulator since `POST /bench/upstream/reset`, by kind (counted with `diagnostics_channel`: axios
 * over `node:http` for the AuthZ API, `fetch` for openid-client), and the warnings it logged.
 */
import { subscribe } from 'node:diagnostics_channel';
import { createServer, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express from 'express';
import { createClient } from 'redis';
import { appSession, closeServer, loadLibrary, required } from '../lib/app-child.js';
import { serveChild } from '../lib/child.js';
import { CLIENT_ID, CLIENT_SECRET, GUARDED_GROUP } from './groups-constants.js';
import type { UpstreamCounts } from './groups-emulator.js';

export interface GroupsAppReady {
  baseUrl: string;
  port: number;
}

/** What one instance asked the emulator for, and what it warned about. */
export interface InstanceCounts extends UpstreamCounts {
  warnings: Record<string, number>;
}

async function start(): Promise<{ data: GroupsAppReady; close: () => Promise<void> }> {
  const emulatorHost = new URL(required('BENCH_ISSUER')).host;
  const counts: InstanceCounts = { groups: 0, apiToken: 0, token: 0, other: 0, warnings: {} };
  const countPath = (host: string, path: string): void => {
    if (host !== emulatorHost) return;
    if (path.includes('/IdentityMembership/')) counts.groups++;
    else if (path.includes('/api-access/token')) counts.apiToken++;
    else if (path.includes('/protocol/openid-connect/token')) counts.token++;
    else counts.other++;
  };
  subscribe('http.client.request.start', (message) => {
    const request = (message as { request: ClientRequest }).request;
    countPath(String(request.getHeader('host')), request.path);
  });
  subscribe('undici:request:create', (message) => {
    const request = (message as { request: { origin: string; path: string } }).request;
    countPath(new URL(request.origin).host, request.path);
  });

  const { cernSso, redisCache, requireAuth, requireGroup } = await loadLibrary();
  const redis = createClient({ socket: { path: required('BENCH_REDIS_SOCKET'), tls: false } });
  redis.on('error', () => undefined);
  await redis.connect();

  const app = express();
  const server = createServer(app);
  // Keep-alive sockets of the parent survive between its bursts.
  server.keepAliveTimeout = 120_000;
  // 1 000 connections arrive at once: a short accept queue would drop SYNs (1 s retries).
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}`;

  app.use(appSession(new RedisStore({ client: redis })));
  const silent = (): void => undefined;
  const warn = (fields: unknown, message?: string): void => {
    const text = typeof fields === 'string' ? fields : (message ?? '');
    counts.warnings[text] = (counts.warnings[text] ?? 0) + 1;
  };
  const logger = { debug: silent, info: silent, warn, error: warn };
  const sso = cernSso({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    baseUrl,
    issuer: required('BENCH_ISSUER'),
    authzApiUrl: required('BENCH_AUTHZ'),
    cache: redisCache(redis, { logger }),
    logger,
  });
  app.use(sso);
  await sso.ready();
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json({ login: req.sso.user?.login ?? null });
  });
  app.get('/api/guarded', requireGroup(GUARDED_GROUP), (req, res) => {
    res.json({ login: req.sso.user?.login ?? null });
  });
  app.get('/bench/upstream', (_req, res) => {
    res.json(counts);
  });
  app.post('/bench/upstream/reset', (_req, res) => {
    Object.assign(counts, { groups: 0, apiToken: 0, token: 0, other: 0, warnings: {} });
    res.json({});
  });

  return {
    data: { baseUrl, port },
    close: async () => {
      await closeServer(server);
      await sso.close();
      redis.destroy();
    },
  };
}

serveChild(start, 600_000);
