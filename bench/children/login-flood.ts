/**
 * Child process of the `login-flood` suite: an app with express-session (MemoryStore) and
 * `cernSso()` (compiled `dist/`, against the emulator started here), flooded with anonymous
 * `GET /login` from this process. Reports sessions stored and heap growth after full GCs.
 *
 * - `library`: `saveUninitialized: false`, the setting the README asks for.
 * - `session-per-request`: `saveUninitialized: true`, a reference for "a session per request"
 *   (what the pending login in the session used to cost, minus its ~550 bytes of login data).
 *
 * Run with `--expose-gc`; `BENCH_REQUESTS` overrides the number of requests.
 */
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { startCernSsoEmulator } from '../../src/testing/index.js';
import { appSession, closeServer, listen, loadLibrary } from '../lib/app-child.js';
import { reportFromChild } from '../lib/child.js';
import { settle } from '../lib/heap.js';

export type FloodVariant = 'library' | 'session-per-request';
const VARIANTS: readonly string[] = ['library', 'session-per-request'] satisfies FloodVariant[];

export interface FloodMeasurement {
  variant: FloodVariant;
  requests: number;
  /** Sessions in the MemoryStore before and after the flood. */
  sessionsBefore: number;
  sessionsAfter: number;
  /** heapUsed growth (bytes) over the flood, after full GCs. */
  heapGrowth: number;
  /** external growth (bytes; Buffers outside the JS heap), after full GCs. */
  externalGrowth: number;
  /** Answers that were not a 302 to the login service. */
  unexpected: number;
  /** Answers that set the session cookie. */
  sessionCookies: number;
  /** Size of one response's login cookies (Set-Cookie values), for context. */
  loginCookieBytes: number;
  floodMs: number;
}

const CONCURRENCY = 16;
const WARM_UP = 500;

function storeLength(store: session.MemoryStore): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((error: unknown, length?: number) => {
      if (error) reject(error instanceof Error ? error : new Error('store failed'));
      else resolve(length ?? 0);
    });
  });
}

interface Tally {
  unexpected: number;
  sessionCookies: number;
  loginCookieBytes: number;
}

/** `count` anonymous `GET /login`, `CONCURRENCY` at a time, on keep-alive connections. */
async function flood(port: number, count: number, agent: Agent, tally: Tally): Promise<void> {
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: `/login?returnTo=%2Fpage%2F${next}`,
          agent,
          headers: { host: `localhost:${port}` },
        },
        (res) => {
          if (res.statusCode !== 302) tally.unexpected++;
          const cookies = res.headers['set-cookie'] ?? [];
          if (cookies.some((header) => header.startsWith('app.sid='))) tally.sessionCookies++;
          tally.loginCookieBytes = cookies
            .filter((header) => header.startsWith('cernsso_'))
            .reduce((sum, header) => sum + (header.split(';')[0]?.length ?? 0), 0);
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function measure(variant: FloodVariant, requests: number): Promise<FloodMeasurement> {
  const { cernSso } = await loadLibrary();
  const emulator = await startCernSsoEmulator();
  const store = new session.MemoryStore();
  const app = express();
  app.use(appSession(store, variant === 'session-per-request'));
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}`;
  emulator.registerClient({
    clientId: 'bench-app',
    clientSecret: 'bench-app-secret',
    redirectUris: [`${baseUrl}/oidc/callback`],
  });
  const silent = (): void => undefined;
  const sso = cernSso({
    clientId: 'bench-app',
    clientSecret: 'bench-app-secret',
    baseUrl,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger: { debug: silent, info: silent, warn: silent, error: silent },
  });
  app.use(sso);
  await sso.ready();

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const tally: Tally = { unexpected: 0, sessionCookies: 0, loginCookieBytes: 0 };
  // Warm-up (JIT, lazily created structures), then the baseline snapshot; the warm-up's
  // sessions (reference variant) are cleared so that both snapshots count only the flood.
  await flood(port, WARM_UP, agent, tally);
  await new Promise<void>((resolve) => {
    store.clear(() => {
      resolve();
    });
  });
  const warm: Tally = { unexpected: tally.unexpected, sessionCookies: 0, loginCookieBytes: 0 };
  const sessionsBefore = await storeLength(store);
  const before = await settle(6);
  const started = performance.now();
  await flood(port, requests, agent, warm);
  const floodMs = performance.now() - started;
  const after = await settle(6);
  const sessionsAfter = await storeLength(store);

  agent.destroy();
  await closeServer(server);
  await sso.close();
  await emulator.close();
  return {
    variant,
    requests,
    sessionsBefore,
    sessionsAfter,
    heapGrowth: after.heap - before.heap,
    externalGrowth: after.external - before.external,
    unexpected: warm.unexpected,
    sessionCookies: warm.sessionCookies,
    loginCookieBytes: warm.loginCookieBytes,
    floodMs,
  };
}

const variant = process.argv[2] ?? '';
const requests = Number(process.env.BENCH_REQUESTS ?? 20_000);
if (!VARIANTS.includes(variant)) throw new Error(`usage: login-flood.ts ${VARIANTS.join('|')}`);
reportFromChild(() => measure(variant as FloodVariant, requests));
