/**
 * Child process of the `session-memory` suite (run with `--expose-gc`): what `BENCH_SESSIONS`
 * signed-in sessions cost, in this process's heap and (on Redis) in Redis.
 *
 * - `library`: express-session (MemoryStore) + `cernSso()` against the emulator started here.
 *   `jdoe` logs in once for real; the stored session (`{ cernSso: { ref } }`) and its sign-in
 *   record (tokens + claims, `cern-sso.auth.<random>`) are then cloned `BENCH_SESSIONS` times
 *   with fresh session ids, record ids and token strings of the same length (nothing shared),
 *   written through the store's own `set`.
 * - `reference`: express-session (MemoryStore) whose sessions hold only `{ user: { login } }`,
 *   what an app without the library keeps; one real sign-in, cloned the same way.
 * - `library-redis`, `reference-redis`: the same on connect-redis (node-redis 5) against the
 *   private redis-server of `BENCH_REDIS_SOCKET` (flushed first): Redis `used_memory` growth, and
 *   this process's heap.
 *
 * After filling, signed-in `GET /me` for `BENCH_REQUESTED` distinct sessions (16 at a time,
 * keep-alive, from this process) must all answer 200 `{"login":"jdoe"}`: that also fills the
 * library's in-process record cache (at most 10 000 parsed records, `MAX_HELD_RECORDS`) as in
 * production. heapUsed and external are read after full GCs before filling, after filling and
 * after the requests.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import type { CernSso } from '../../src/index.js';
import { startCernSsoEmulator, type CernSsoEmulator } from '../../src/testing/index.js';
import { closeServer, listen, loadLibrary } from '../lib/app-child.js';
import { reportFromChild } from '../lib/child.js';
import { settle } from '../lib/heap.js';
import { browserLogin } from '../lib/login.js';

declare module 'express-session' {
  interface SessionData {
    benchUser?: { login: string };
  }
}

export type SessionMemoryVariant = 'library' | 'reference' | 'library-redis' | 'reference-redis';
const VARIANTS: readonly string[] = [
  'library',
  'reference',
  'library-redis',
  'reference-redis',
] satisfies SessionMemoryVariant[];

export interface SessionMemoryMeasurement {
  variant: SessionMemoryVariant;
  sessions: number;
  /** Distinct sessions that made a signed-in request after filling. */
  requested: number;
  /** Requests that did not answer 200 `{"login":"jdoe"}`. */
  failures: number;
  /** JSON size of one stored session, and of one sign-in record entry (library only, else 0). */
  sessionJsonBytes: number;
  recordJsonBytes: number;
  /** Library only: JSON bytes of the record's parts (tokens by name, claims). */
  recordParts?: Record<string, number>;
  /** Heap / external growth from filling the store (after GC). */
  storeHeap: number;
  storeExternal: number;
  /** Heap / external growth from the signed-in requests (records held in process). */
  requestsHeap: number;
  requestsExternal: number;
  /** Redis variants: `used_memory` growth from filling, and from the requests; keys added. */
  redisStore?: number;
  redisRequests?: number;
  redisKeys?: number;
  fillMs: number;
  requestMs: number;
}

const SECRET = 'bench-secret';
const COOKIE = 'app.sid';
const LOGIN = 'jdoe';
const CONCURRENCY = 16;
const WARM_UP = 300;
/** Writes in flight while filling (node-redis pipelines them). */
const FILL_BATCH = 256;

/** Session id of clone `i`: 32 base64url characters like express-session's, derived (not kept). */
const sidOf = (i: number): string =>
  createHash('sha256').update(`bench-${i}`).digest('base64url').slice(0, 32);

/** The `Cookie` header express-session expects for `sid` (cookie-signature's format). */
function cookieFor(sid: string): string {
  const mac = createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '');
  return `${COOKIE}=${encodeURIComponent(`s:${sid}.${mac}`)}`;
}

/** A fresh random string as long as `like` (base64url, as JWTs and ids are). */
const freshLike = (like: string): string =>
  randomBytes(Math.ceil((like.length * 3) / 4))
    .toString('base64url')
    .slice(0, like.length);

/** Every entry of the store, as `[id, value]` (MemoryStore answers an object, connect-redis a list). */
function entries(store: session.Store): Promise<[string, Record<string, unknown>][]> {
  return new Promise((resolve, reject) => {
    store.all?.((error: unknown, all?: unknown) => {
      if (error) {
        reject(error instanceof Error ? error : new Error('store.all failed'));
        return;
      }
      if (Array.isArray(all)) {
        resolve((all as (Record<string, unknown> & { id: string })[]).map(({ id, ...rest }) => [id, rest]));
      } else resolve(Object.entries((all ?? {}) as Record<string, Record<string, unknown>>));
    });
  });
}

function storeSet(store: session.Store, id: string, value: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    store.set(id, value as session.SessionData, (error?: unknown) => {
      if (error) reject(error instanceof Error ? error : new Error('store.set failed'));
      else resolve();
    });
  });
}

interface Original {
  session: Record<string, unknown>;
  /** The library's record entry (library variants). */
  record?: Record<string, unknown>;
}

/** A clone of the session (+ record) with fresh ids and token strings, as new, unshared objects. */
function cloneEntries(original: Original, sid: string): [string, unknown][] {
  const session = structuredClone(original.session);
  if (original.record === undefined) return [[sid, session]];
  const record = structuredClone(original.record) as {
    cernSsoAuth: { sid?: string; tokens: Record<string, unknown> };
  };
  const auth = record.cernSsoAuth;
  for (const name of ['accessToken', 'refreshToken', 'idToken']) {
    const token = auth.tokens[name];
    if (typeof token === 'string') auth.tokens[name] = freshLike(token);
  }
  if (typeof auth.sid === 'string') auth.sid = freshLike(auth.sid);
  const pointer = session.cernSso as { ref: string };
  const ref = `cern-sso.auth.${freshLike(pointer.ref.slice('cern-sso.auth.'.length))}`;
  session.cernSso = { ...pointer, ref };
  return [
    [ref, record],
    [sid, session],
  ];
}

/** JSON bytes of the record's tokens (by name) and claims, to see what a record is made of. */
function recordParts(record: Record<string, unknown>): Record<string, number> {
  const auth = record.cernSsoAuth as { tokens: Record<string, unknown>; claims: unknown };
  const size = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
  const parts: Record<string, number> = { claims: size(auth.claims) };
  for (const [name, value] of Object.entries(auth.tokens))
    if (typeof value === 'string') parts[name] = size(value);
  return parts;
}

/** `GET /me` as the sessions `from` to `to - 1`, `CONCURRENCY` at a time; counts wrong answers. */
async function requestAll(port: number, from: number, to: number, agent: Agent): Promise<number> {
  let next = from;
  let failures = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/me',
          agent,
          headers: { host: `localhost:${port}`, accept: 'application/json', cookie: cookieFor(sidOf(i)) },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            if (res.statusCode !== 200 || body !== `{"login":"${LOGIN}"}`) failures++;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < to) await one(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failures;
}

/** `GET /me` with one cookie, `count` times (warm-up). */
async function warmUp(port: number, cookie: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/me`, {
      headers: { cookie, accept: 'application/json' },
    });
    const body = await response.text();
    if (response.status !== 200 || body !== `{"login":"${LOGIN}"}`)
      throw new Error(`warm-up: ${response.status} ${body.slice(0, 200)}`);
  }
}

async function measure(
  variant: SessionMemoryVariant,
  sessions: number,
  requested: number,
): Promise<SessionMemoryMeasurement> {
  const onRedis = variant.endsWith('-redis');
  const withLibrary = variant.startsWith('library');
  const socket = process.env.BENCH_REDIS_SOCKET;
  if (onRedis && socket === undefined) throw new Error('BENCH_REDIS_SOCKET is not set');
  const redis = onRedis ? createClient({ socket: { path: socket ?? '', tls: false } }) : undefined;
  redis?.on('error', () => undefined);
  await redis?.connect();
  await redis?.flushAll();
  const usedMemory = async (): Promise<number> => {
    const info = (await redis?.info('memory')) ?? '';
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  };

  const store: session.Store = redis ? new RedisStore({ client: redis }) : new session.MemoryStore();
  const app = express();
  app.use(
    session({
      name: COOKIE,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      store,
      cookie: { httpOnly: true, sameSite: 'lax' },
    }),
  );
  const server = await listen(app);
  server.keepAliveTimeout = 60_000;
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}`;
  let emulator: CernSsoEmulator | undefined;
  let sso: CernSso | undefined;
  let signInUrl: string;
  if (withLibrary) {
    const { cernSso, requireAuth } = await loadLibrary();
    // Access tokens outlive the run: a signed-in request never needs a refresh here.
    emulator = await startCernSsoEmulator({ autoLogin: LOGIN, accessTokenTtlSec: 3600 });
    emulator.registerClient({
      clientId: 'bench-app',
      clientSecret: 'bench-app-secret',
      redirectUris: [`${baseUrl}/oidc/callback`],
      roles: { [LOGIN]: ['user'] },
    });
    const silent = (): void => undefined;
    sso = cernSso({
      clientId: 'bench-app',
      clientSecret: 'bench-app-secret',
      baseUrl,
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      logger: { debug: silent, info: silent, warn: silent, error: silent },
    });
    app.use(sso);
    await sso.ready();
    const me: RequestHandler = (req, res) => {
      res.json({ login: req.sso.user?.login ?? null });
    };
    app.get('/me', requireAuth(), me);
    signInUrl = `${baseUrl}/login?returnTo=%2Fme`;
  } else {
    app.get('/bench/sign-in', (req, res) => {
      req.session.benchUser = { login: LOGIN };
      res.redirect(302, '/me');
    });
    app.get('/me', (req, res) => {
      const user = req.session.benchUser;
      if (user === undefined) res.status(401).json({ login: null });
      else res.json({ login: user.login });
    });
    signInUrl = `${baseUrl}/bench/sign-in`;
  }

  const signIn = await browserLogin(signInUrl);
  const sid = signIn.cookies.get(COOKIE);
  if (signIn.status !== 200 || sid === undefined || !signIn.body.includes(LOGIN)) {
    throw new Error(`sign-in failed: ${signIn.status} at ${signIn.url}: ${signIn.body.slice(0, 200)}`);
  }
  const stored = await entries(store);
  const sessionEntry = stored.find(([, value]) => value.cernSsoAuth === undefined);
  const recordEntry = stored.find(([, value]) => value.cernSsoAuth !== undefined);
  if (sessionEntry === undefined || (withLibrary && recordEntry === undefined) || stored.length > 2) {
    throw new Error(`expected one session (and one record), found ${stored.length} entries`);
  }
  const original: Original = {
    session: sessionEntry[1],
    ...(withLibrary && recordEntry ? { record: recordEntry[1] } : {}),
  };
  await warmUp(port, `${COOKIE}=${sid}`, WARM_UP);

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const before = await settle();
  const redisBefore = await usedMemory();
  const keysBefore = (await redis?.dbSize()) ?? 0;

  const fillStarted = performance.now();
  for (let start = 0; start < sessions; start += FILL_BATCH) {
    const writes: Promise<void>[] = [];
    for (let i = start; i < Math.min(sessions, start + FILL_BATCH); i++) {
      for (const [id, value] of cloneEntries(original, sidOf(i))) writes.push(storeSet(store, id, value));
    }
    await Promise.all(writes);
  }
  const fillMs = performance.now() - fillStarted;
  const filled = await settle();
  const redisFilled = await usedMemory();
  const keysAfter = (await redis?.dbSize()) ?? 0;

  const requestStarted = performance.now();
  const failures = await requestAll(port, 0, requested, agent);
  const requestMs = performance.now() - requestStarted;
  const after = await settle();
  const redisAfter = await usedMemory();

  // The sessions are still there (and the store alive up to here): the last one answers.
  const last = await requestAll(port, sessions - 1, sessions, agent);
  agent.destroy();
  await closeServer(server);
  await sso?.close();
  await emulator?.close();
  await redis?.flushAll();
  redis?.destroy();
  return {
    variant,
    sessions,
    requested,
    failures: failures + last,
    sessionJsonBytes: Buffer.byteLength(JSON.stringify(original.session)),
    recordJsonBytes: original.record === undefined ? 0 : Buffer.byteLength(JSON.stringify(original.record)),
    ...(original.record === undefined ? {} : { recordParts: recordParts(original.record) }),
    storeHeap: filled.heap - before.heap,
    storeExternal: filled.external - before.external,
    requestsHeap: after.heap - filled.heap,
    requestsExternal: after.external - filled.external,
    ...(redis
      ? {
          redisStore: redisFilled - redisBefore,
          redisRequests: redisAfter - redisFilled,
          redisKeys: keysAfter - keysBefore,
        }
      : {}),
    fillMs,
    requestMs,
  };
}

const variant = process.argv[2] ?? '';
const sessions = Number(process.env.BENCH_SESSIONS ?? 100_000);
const requested = Math.min(sessions, Number(process.env.BENCH_REQUESTED ?? 12_000));
if (!VARIANTS.includes(variant)) throw new Error(`usage: session-memory.ts ${VARIANTS.join('|')}`);
reportFromChild(() => measure(variant as SessionMemoryVariant, sessions, requested));
